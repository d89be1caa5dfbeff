# Infrastructure of the aliyun environment. terraform_data needs no provider download, so the demo
# runs offline; a real environment declares its cloud provider here.
variable "replicas" {
  type    = number
  default = 1
}

variable "greeting" {
  type    = string
  default = "Hello"
}

# A secret: set from secrets/app.sops.yaml (its top-level keys become variables; `make demo` adds the file).
variable "db_password" {
  type      = string
  sensitive = true
  default   = null
}

resource "terraform_data" "app_settings" {
  input = {
    environment     = "aliyun"
    replicas        = var.replicas
    greeting        = var.greeting
    db_password_set = var.db_password != null
  }
}

# Updated whenever the password changes: the plan shows that it changed, never the value.
resource "terraform_data" "db_credentials" {
  input = var.db_password
}

output "app_settings" {
  value = terraform_data.app_settings.output
}
