#!/usr/bin/env bash
# `make deploy`: create or update the TensorBoard dashboard on AWS Fargate (nbs/30_deploy.ipynb explains each step).
# Needs AWS credentials (e.g. AWS_PROFILE), a running Docker engine, the AWS CLI and Terraform >= 1.9, and
# deploy/terraform/terraform.tfvars (copy terraform.tfvars.example). AUTO_APPROVE=1 skips Terraform's confirmations.
# Not run by `make test`: the tests apply the same configuration to a local AWS (moto) instead.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-.venv/bin/python}
TF=(terraform -chdir=deploy/terraform)
APPROVE=(); [ "${AUTO_APPROVE:-0}" = 1 ] && APPROVE=(-auto-approve)

[ -f deploy/terraform/terraform.tfvars ] || { echo "deploy: write deploy/terraform/terraform.tfvars first (cp deploy/terraform/terraform.tfvars.example deploy/terraform/terraform.tfvars; allowed_cidrs is required)" >&2; exit 2; }
for tool in terraform docker aws; do
  command -v "$tool" >/dev/null || { echo "deploy: $tool is not on PATH" >&2; exit 2; }
done

# The image is tagged by the content of its sources: an unchanged image is neither rebuilt nor pushed (tags are immutable).
TAG=${IMAGE_TAG:-$(cd deploy/tensorboard && find . -type f | LC_ALL=C sort | xargs sha256sum | sha256sum | cut -c1-16)}

"${TF[@]}" init -input=false
echo "== 1/4 the ECR repository (so the image has somewhere to go)"
"${TF[@]}" apply -input=false "${APPROVE[@]}" -var "image_tag=$TAG" -target=aws_ecr_repository.tensorboard
REPO=$("${TF[@]}" output -raw ecr_repository_url)
REGION=$("${TF[@]}" output -raw region)

echo "== 2/4 the TensorBoard image $REPO:$TAG"
if aws ecr describe-images --region "$REGION" --repository-name "${REPO#*/}" --image-ids "imageTag=$TAG" >/dev/null 2>&1; then
  echo "already in ECR"
else
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "${REPO%%/*}"
  docker build --platform linux/amd64 -t "$REPO:$TAG" deploy/tensorboard
  docker push "$REPO:$TAG"
fi

echo "== 3/4 everything else"
"${TF[@]}" apply -input=false "${APPROVE[@]}" -var "image_tag=$TAG"
CLUSTER=$("${TF[@]}" output -raw cluster); SERVICE=$("${TF[@]}" output -raw service)

echo "== 4/4 waiting for the service to be stable"
aws ecs wait services-stable --region "$REGION" --cluster "$CLUSTER" --services "$SERVICE"
URL=$("$PYTHON" -c "from scoliosis_xray.deploy import dashboard_url; print(dashboard_url('$CLUSTER', '$SERVICE', region='$REGION', wait=300) or '')")
echo
if [ -n "$URL" ]; then echo "Dashboard: $URL"; else echo "No task with a public IP yet; later: $("${TF[@]}" output -raw dashboard_url_command)"; fi
echo "Publish a run: scoliosis-xray publish --run RUN --bucket $("${TF[@]}" output -raw logs_bucket) --prefix $("${TF[@]}" output -raw logs_prefix)"
