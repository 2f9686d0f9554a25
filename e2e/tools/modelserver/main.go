// A stand-in model server for the e2e real node: it starts listening only after MODEL_STARTUP_SECONDS (so a TCP
// readiness probe fails until its start-up is over), answers every request after MODEL_LATENCY_MS (a request's
// ?sleep_ms= overrides it), fails MODEL_FAILURE_RATE of them with 500, and on SIGTERM stops accepting and
// finishes what is in flight. Every start, ready, stop and exit is logged to stdout (the node's pod logs).
//
// Env: MODEL_PORT (default 8080), MODEL_STARTUP_SECONDS (0), MODEL_LATENCY_MS (0), MODEL_FAILURE_RATE (0..1, 0),
// MODEL_VERSION (echoed in every answer, default "dev"). GET /resolve?name= answers what the pod's resolver gives.
package main

import (
	"context"
	"fmt"
	"log"
	"encoding/json"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"
)

func envFloat(name string, def float64) float64 {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		log.Fatalf("%s=%q: not a number", name, v)
	}
	return f
}

func main() {
	log.SetFlags(log.LstdFlags | log.Lmicroseconds)
	port := os.Getenv("MODEL_PORT")
	if port == "" {
		port = "8080"
	}
	startup := envFloat("MODEL_STARTUP_SECONDS", 0)
	latency := envFloat("MODEL_LATENCY_MS", 0)
	failRate := envFloat("MODEL_FAILURE_RATE", 0)
	version := os.Getenv("MODEL_VERSION")
	if version == "" {
		version = "dev"
	}
	log.Printf("modelserver %s starting: port %s, start-up %.1fs, latency %.0fms, failure rate %.3f",
		version, port, startup, latency, failRate)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-time.After(time.Duration(startup * float64(time.Second))):
	case s := <-stop:
		log.Printf("modelserver %s: %s during start-up, exiting", version, s)
		return
	}

	var inflight, served atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	// /resolve?name=N: the addresses the pod's resolver (the kubelet's resolv.conf: cluster DNS) gives for N.
	mux.HandleFunc("/resolve", func(w http.ResponseWriter, r *http.Request) {
		addrs, err := net.DefaultResolver.LookupHost(r.Context(), r.URL.Query().Get("name"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"addresses": addrs})
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		inflight.Add(1)
		defer inflight.Add(-1)
		d := latency
		if q := r.URL.Query().Get("sleep_ms"); q != "" {
			if v, err := strconv.ParseFloat(q, 64); err == nil {
				d = v
			}
		}
		time.Sleep(time.Duration(d * float64(time.Millisecond)))
		served.Add(1)
		if failRate > 0 && rand.Float64() < failRate {
			http.Error(w, "injected failure", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, "{\"version\":%q,\"host\":%q}\n", version, os.Getenv("HOSTNAME"))
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 30 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	log.Printf("modelserver %s ready on :%s", version, port)

	select {
	case err := <-errc:
		log.Fatalf("modelserver %s: %v", version, err)
	case s := <-stop:
		log.Printf("modelserver %s: %s, draining %d in flight", version, s, inflight.Load())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		log.Printf("modelserver %s: shutdown: %v", version, err)
	}
	log.Printf("modelserver %s exiting after %d requests", version, served.Load())
}
