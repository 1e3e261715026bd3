output "artifact_bucket" {
  description = "S3 bucket holding MLflow artefacts"
  value       = aws_s3_bucket.artifacts.bucket
}

output "tracking_db_endpoint" {
  description = "Address of the tracking database"
  value       = aws_db_instance.tracking.address
}
