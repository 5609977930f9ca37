resource "aws_ecs_cluster" "main" {
  name = var.name
}

resource "aws_ecs_task_definition" "tensorboard" {
  family                   = var.name
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.task_cpu
  memory                   = var.task_memory
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  runtime_platform {
    operating_system_family = "LINUX"
    cpu_architecture        = "X86_64"
  }
  container_definitions = jsonencode([{
    name         = "tensorboard"
    image        = "${aws_ecr_repository.tensorboard.repository_url}:${var.image_tag}"
    essential    = true
    user         = "10001:10001" # the image's non-root user; set here too so ECS never runs it as root
    portMappings = [{ containerPort = 6006, hostPort = 6006, protocol = "tcp" }]
    environment = [
      { name = "LOGDIR", value = local.logdir },
      { name = "RELOAD_INTERVAL", value = tostring(var.reload_interval) },
      { name = "AWS_REGION", value = var.region },
    ]
    healthCheck = {
      command     = ["CMD", "python", "/app/healthcheck.py"]
      interval    = 30
      timeout     = 5
      retries     = 3
      startPeriod = 60
    }
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        awslogs-group         = aws_cloudwatch_log_group.tensorboard.name
        awslogs-region        = var.region
        awslogs-stream-prefix = "tensorboard"
      }
    }
  }])
}

resource "aws_ecs_service" "tensorboard" {
  name            = var.name
  cluster         = aws_ecs_cluster.main.id
  task_definition = aws_ecs_task_definition.tensorboard.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = [aws_subnet.public.id]
    security_groups  = [aws_security_group.tensorboard.id]
    assign_public_ip = true
  }
  deployment_minimum_healthy_percent = 0 # one task: replace it rather than run two
  deployment_maximum_percent         = 100
  depends_on                         = [aws_iam_role_policy.execution, aws_iam_role_policy.task, aws_route.internet]
}
