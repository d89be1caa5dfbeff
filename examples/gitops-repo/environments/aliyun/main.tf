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

resource "terraform_data" "app_settings" {
  input = {
    environment = "aliyun"
    replicas    = var.replicas
    greeting    = var.greeting
  }
}

output "app_settings" {
  value = terraform_data.app_settings.output
}
