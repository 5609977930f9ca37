# One public subnet is enough for one task: the task gets a public IP and reaches ECR, S3 and CloudWatch over HTTPS
# through the internet gateway, so no NAT gateway (about $33/month) is needed.
resource "aws_vpc" "main" {
  cidr_block           = var.vpc_cidr
  enable_dns_support   = true
  enable_dns_hostnames = true
  tags                 = { Name = var.name }
}

resource "aws_subnet" "public" {
  vpc_id                  = aws_vpc.main.id
  cidr_block              = cidrsubnet(var.vpc_cidr, 8, 0)
  map_public_ip_on_launch = false # the service asks for its public IP explicitly; nothing else gets one
  tags                    = { Name = "${var.name}-public" }
}

resource "aws_internet_gateway" "main" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = var.name }
}

resource "aws_route_table" "public" {
  vpc_id = aws_vpc.main.id
  tags   = { Name = "${var.name}-public" }
}

resource "aws_route" "internet" {
  route_table_id         = aws_route_table.public.id
  destination_cidr_block = "0.0.0.0/0"
  gateway_id             = aws_internet_gateway.main.id
}

resource "aws_route_table_association" "public" {
  subnet_id      = aws_subnet.public.id
  route_table_id = aws_route_table.public.id
}

# The only way in: TCP 6006 from the allowed CIDR blocks. The only way out: HTTPS (ECR, S3, CloudWatch Logs).
resource "aws_security_group" "tensorboard" {
  name        = "${var.name}-tensorboard"
  description = "TensorBoard: 6006 from allowed_cidrs only, HTTPS out"
  vpc_id      = aws_vpc.main.id
  tags        = { Name = "${var.name}-tensorboard" }
}

resource "aws_vpc_security_group_ingress_rule" "dashboard" {
  for_each          = toset(var.allowed_cidrs)
  security_group_id = aws_security_group.tensorboard.id
  description       = "TensorBoard from ${each.value}"
  ip_protocol       = "tcp"
  from_port         = 6006
  to_port           = 6006
  cidr_ipv4         = each.value
}

resource "aws_vpc_security_group_egress_rule" "https" {
  security_group_id = aws_security_group.tensorboard.id
  description       = "HTTPS to ECR, S3 and CloudWatch Logs"
  ip_protocol       = "tcp"
  from_port         = 443
  to_port           = 443
  cidr_ipv4         = "0.0.0.0/0"
}
