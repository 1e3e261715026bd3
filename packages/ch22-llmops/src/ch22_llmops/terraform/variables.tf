variable "name" {
  type        = string
  description = "Prefix of every resource name"
  default     = "llmpath"
}

variable "region" {
  type        = string
  description = "AWS region"
  default     = "eu-west-1"
}

variable "owner" {
  type        = string
  description = "Team that owns the tracking server (cost allocation tag)"
  default     = "ml-platform"
}

variable "db_instance_class" {
  type        = string
  description = "RDS instance class of the tracking database"
  default     = "db.t4g.small"
}

variable "server_cpu" {
  type        = number
  description = "Fargate CPU units of the MLflow server"
  default     = 1024
}

variable "server_memory" {
  type        = number
  description = "Fargate memory (MiB) of the MLflow server"
  default     = 2048
}

variable "mlflow_image" {
  type        = string
  description = "Container image with mlflow and psycopg2"
  default     = "ghcr.io/mlflow/mlflow:v3.17.2"
}

variable "private_subnets" {
  type        = list(string)
  description = "Private subnet ids for the service"
  default     = []
}
