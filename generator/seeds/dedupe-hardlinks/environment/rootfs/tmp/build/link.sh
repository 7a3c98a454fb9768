#!/bin/bash
set -e
ln -f '/srv/media/library/old backup/cover_1.mp3' '/srv/media/library/old backup/photos/poster copy.mp3'
