module modelstack.local/e2e/kube

go 1.26
