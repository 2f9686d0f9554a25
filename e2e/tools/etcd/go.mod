module modelstack.local/e2e/etcd

go 1.26
