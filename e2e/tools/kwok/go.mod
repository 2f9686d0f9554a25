module modelstack.local/e2e/kwok

go 1.26
