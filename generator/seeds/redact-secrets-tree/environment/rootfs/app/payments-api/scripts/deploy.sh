#!/bin/sh
set -e
aws configure set aws_access_key_id AKIA59AC5UT3D0M9FIAZ
aws s3 sync dist/ s3://assets-prod/
