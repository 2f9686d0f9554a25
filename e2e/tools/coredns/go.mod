module modelstack.local/e2e/coredns

go 1.26
