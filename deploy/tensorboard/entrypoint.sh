#!/bin/sh
# Start TensorBoard on the published logs. The image's ENTRYPOINT; tests/test_deploy.py starts this same script.
#   LOGDIR           required: s3://BUCKET/PREFIX (or any path TensorBoard reads)
#   HOST, PORT       where to listen (image: 0.0.0.0 and 6006)
#   RELOAD_INTERVAL  seconds between rescans of LOGDIR (default 60)
#   S3_ENDPOINT      optional S3-compatible endpoint (e.g. http://127.0.0.1:9000); unset means AWS S3
# Extra arguments are passed on to tensorboard.
set -eu
: "${LOGDIR:?set LOGDIR to the logs to serve, e.g. s3://my-bucket/runs}"
# TensorBoard passes S3_ENDPOINT to boto3 as endpoint_url: an empty value breaks every read, so drop it.
if [ -z "${S3_ENDPOINT:-}" ]; then unset S3_ENDPOINT; fi
exec tensorboard \
  --logdir "$LOGDIR" \
  --host "${HOST:-0.0.0.0}" \
  --port "${PORT:-6006}" \
  --load_fast=false \
  --reload_interval "${RELOAD_INTERVAL:-60}" \
  --window_title "${WINDOW_TITLE:-scoliosis-xray}" \
  "$@"
