module modelstack.local/e2e/modelserver

go 1.26
