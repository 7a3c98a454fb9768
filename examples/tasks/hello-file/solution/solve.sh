#!/bin/bash
echo 'Hello, terminal!' > /app/greeting.txt
