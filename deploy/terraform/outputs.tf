output "region" {
  value = var.region
}

output "logs_bucket" {
  description = "Bucket to publish runs to: scoliosis-xray publish --run RUN --bucket <this> --prefix <logs_prefix>."
  value       = aws_s3_bucket.logs.bucket
}

output "logs_prefix" {
  description = "Key prefix TensorBoard reads."
  value       = var.logs_prefix
}

output "logdir" {
  description = "What the container passes to tensorboard --logdir."
  value       = local.logdir
}

output "ecr_repository_url" {
  description = "Push the image here (make deploy does)."
  value       = aws_ecr_repository.tensorboard.repository_url
}

output "cluster" {
  value = aws_ecs_cluster.main.name
}

output "service" {
  value = aws_ecs_service.tensorboard.name
}

output "dashboard_url_command" {
  description = "A Fargate task gets its public IP when it starts, after apply: this command prints http://IP:6006/ once the task runs."
  value       = "python -c \"from scoliosis_xray.deploy import dashboard_url; print(dashboard_url('${aws_ecs_cluster.main.name}', '${aws_ecs_service.tensorboard.name}', region='${var.region}', wait=300))\""
}
