# The MLflow tracking server's cloud setup (AWS): an S3 bucket for artefacts, a PostgreSQL
# backend store on RDS, and one container service running `mlflow server`.
# Checked offline by `ch22-llmops iac` (python-hcl2); nothing here is applied.

terraform {
  required_version = ">= 1.6"
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = "~> 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

locals {
  tags = {
    project = "llmpath"
    chapter = "ch22-llmops"
    owner   = var.owner
  }
}

resource "aws_s3_bucket" "artifacts" {
  bucket = "${var.name}-mlflow-artifacts"
  tags   = local.tags
}

resource "aws_s3_bucket_versioning" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "artifacts" {
  bucket = aws_s3_bucket.artifacts.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm = "aws:kms"
    }
  }
}

resource "aws_s3_bucket_public_access_block" "artifacts" {
  bucket                  = aws_s3_bucket.artifacts.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_db_instance" "tracking" {
  identifier              = "${var.name}-mlflow"
  engine                  = "postgres"
  engine_version          = "16"
  instance_class          = var.db_instance_class
  allocated_storage       = 20
  db_name                 = "mlflow"
  username                = "mlflow"
  manage_master_user_password = true
  storage_encrypted       = true
  publicly_accessible     = false
  backup_retention_period = 7
  deletion_protection     = true
  skip_final_snapshot     = false
  final_snapshot_identifier = "${var.name}-mlflow-final"
  tags                    = local.tags
}

resource "aws_ecs_cluster" "mlflow" {
  name = "${var.name}-mlflow"
  tags = local.tags
}

resource "aws_ecs_task_definition" "mlflow" {
  family                   = "${var.name}-mlflow"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = var.server_cpu
  memory                   = var.server_memory
  container_definitions = jsonencode([{
    name    = "mlflow"
    image   = var.mlflow_image
    command = ["mlflow", "server", "--host", "0.0.0.0", "--port", "5000",
               "--backend-store-uri", "postgresql://mlflow@${aws_db_instance.tracking.address}/mlflow",
               "--artifacts-destination", "s3://${aws_s3_bucket.artifacts.bucket}"]
    portMappings = [{ containerPort = 5000 }]
  }])
  tags = local.tags
}

resource "aws_ecs_service" "mlflow" {
  name            = "${var.name}-mlflow"
  cluster         = aws_ecs_cluster.mlflow.id
  task_definition = aws_ecs_task_definition.mlflow.arn
  desired_count   = 1
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = var.private_subnets
    assign_public_ip = false
  }
  tags = local.tags
}
