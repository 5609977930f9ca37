variable "region" {
  description = "AWS region for every resource."
  type        = string
  default     = "us-east-1"
}

variable "name" {
  description = "Prefix of every resource name (ECR repository, cluster, service, roles, log group, bucket)."
  type        = string
  default     = "scoliosis-xray-tb"
  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,30}[a-z0-9]$", var.name))
    error_message = "name must be 3-32 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "allowed_cidrs" {
  description = "IPv4 CIDR blocks that may open the dashboard on port 6006, e.g. [\"203.0.113.7/32\"]. Required: there is no default."
  type        = list(string)
  nullable    = false
  validation {
    condition     = length(var.allowed_cidrs) > 0
    error_message = "allowed_cidrs must list at least one IPv4 CIDR block (e.g. your office's address with /32)."
  }
  validation {
    condition     = alltrue([for c in var.allowed_cidrs : can(cidrnetmask(c))])
    error_message = "Every entry of allowed_cidrs must be an IPv4 CIDR block such as 203.0.113.7/32."
  }
  validation {
    # A block shorter than /8 spans a large part of the internet (0.0.0.0/0 is all of it): refuse it unless asked.
    condition     = var.allow_public || alltrue([for c in var.allowed_cidrs : !can(cidrnetmask(c)) || tonumber(split("/", c)[1]) >= 8])
    error_message = "allowed_cidrs opens the dashboard to the whole internet (a block broader than /8, such as 0.0.0.0/0); the dashboard has no login. Restrict it to your addresses, or set allow_public = true explicitly."
  }
}

variable "allow_public" {
  description = "Allow allowed_cidrs to contain blocks broader than /8, 0.0.0.0/0 included. TensorBoard has no authentication: leave false for medical projects."
  type        = bool
  default     = false
  nullable    = false
}

variable "image_tag" {
  description = "Tag of the TensorBoard image in the ECR repository (make deploy uses the git tree hash of deploy/tensorboard)."
  type        = string
  validation {
    condition     = can(regex("^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$", var.image_tag))
    error_message = "image_tag must be a valid Docker tag."
  }
}

variable "logs_bucket_name" {
  description = "Name of the S3 bucket for the TensorBoard logs; default: <name>-logs-<account id>."
  type        = string
  default     = null
}

variable "logs_prefix" {
  description = "Key prefix in the bucket under which `scoliosis-xray publish` puts runs; TensorBoard reads s3://<bucket>/<prefix>."
  type        = string
  default     = "runs"
  validation {
    condition     = can(regex("^([A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*)?$", var.logs_prefix))
    error_message = "logs_prefix must be empty or slash-separated names without leading or trailing slashes."
  }
}

variable "task_cpu" {
  description = "Fargate task CPU units (256 = 0.25 vCPU)."
  type        = number
  default     = 256
  validation {
    condition     = contains([256, 512, 1024, 2048, 4096], var.task_cpu)
    error_message = "task_cpu must be one of 256, 512, 1024, 2048, 4096."
  }
}

variable "task_memory" {
  description = "Fargate task memory in MiB; must be a valid Fargate combination with task_cpu."
  type        = number
  default     = 1024
  validation {
    condition = (
      (var.task_cpu == 256 && contains([512, 1024, 2048], var.task_memory)) ||
      (var.task_cpu == 512 && var.task_memory >= 1024 && var.task_memory <= 4096 && var.task_memory % 1024 == 0) ||
      (var.task_cpu == 1024 && var.task_memory >= 2048 && var.task_memory <= 8192 && var.task_memory % 1024 == 0) ||
      (var.task_cpu == 2048 && var.task_memory >= 4096 && var.task_memory <= 16384 && var.task_memory % 1024 == 0) ||
      (var.task_cpu == 4096 && var.task_memory >= 8192 && var.task_memory <= 30720 && var.task_memory % 1024 == 0)
    )
    error_message = "task_memory is not a valid Fargate size for task_cpu (256 CPU: 512, 1024 or 2048 MiB; 512: 1-4 GiB; 1024: 2-8 GiB; 2048: 4-16 GiB; 4096: 8-30 GiB)."
  }
}

variable "desired_count" {
  description = "Number of TensorBoard tasks: 1 to serve the dashboard, 0 to pause it (no Fargate or IPv4 charges; logs stay in the bucket)."
  type        = number
  default     = 1
  validation {
    condition     = contains([0, 1], var.desired_count)
    error_message = "desired_count must be 0 or 1 (TensorBoard is not shared between tasks)."
  }
}

variable "reload_interval" {
  description = "Seconds between TensorBoard's scans of the bucket for new data (each scan lists the prefix)."
  type        = number
  default     = 60
}

variable "log_retention_days" {
  description = "Days CloudWatch keeps the container's logs."
  type        = number
  default     = 30
}

variable "vpc_cidr" {
  description = "CIDR block of the VPC; the public subnet is its first /24."
  type        = string
  default     = "10.42.0.0/16"
}

variable "force_destroy" {
  description = "Let `terraform destroy` delete a bucket that still holds logs and a repository that still holds images."
  type        = bool
  default     = false
}

variable "tags" {
  description = "Extra tags for every resource."
  type        = map(string)
  default     = {}
}
