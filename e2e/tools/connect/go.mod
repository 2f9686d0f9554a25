module modelstack.local/connect

go 1.26.6
