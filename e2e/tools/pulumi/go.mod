module modelstack.local/e2e/pulumi

go 1.26
