module modelstack.local/e2e/langhost

go 1.26
