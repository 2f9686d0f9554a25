module modelstack.local/e2e/k8sprovider

go 1.26
