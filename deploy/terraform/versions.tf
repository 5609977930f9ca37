# Terraform >= 1.9: a variable's validation may refer to another variable (allowed_cidrs checks allow_public).
# The AWS provider is pinned exactly; the tests run against this version from a local plugin directory.
terraform {
  required_version = ">= 1.9"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "5.100.0"
    }
  }
}

provider "aws" {
  region = var.region
  default_tags {
    tags = merge({ project = "scoliosis-xray", component = "tensorboard" }, var.tags)
  }
}

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  account_id  = data.aws_caller_identity.current.account_id
  partition   = data.aws_partition.current.partition
  bucket_name = coalesce(var.logs_bucket_name, "${var.name}-logs-${local.account_id}")
  logdir      = var.logs_prefix == "" ? "s3://${local.bucket_name}" : "s3://${local.bucket_name}/${var.logs_prefix}"
}
