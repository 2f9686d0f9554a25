// CoreDNS with only the plugins the e2e real node's Corefile uses (cluster DNS for the run's Services and pods),
// from github.com/coredns/coredns: the same entry point as upstream's coredns.go, with a plugin list chosen here
// instead of core/plugin's full one (which pulls in every cloud provider's SDK). Plugins register themselves in
// init; the server orders them by core/dnsserver's directive list.
package main

import (
	_ "github.com/coredns/caddy/onevent"
	"github.com/coredns/coredns/coremain"
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
	_ "github.com/coredns/coredns/plugin/log"
	_ "github.com/coredns/coredns/plugin/ready"
)

func main() { coremain.Run() }
