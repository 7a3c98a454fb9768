#!/bin/bash
# Build the netprobe package into /app/dist (first attempt, never worked).
cd /app/pkgsrc
dpkg-deb --build netprobe /app/dist/
