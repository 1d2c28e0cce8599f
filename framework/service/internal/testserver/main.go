// Command testserver is a tiny HTTP server that the service framework's
// end-to-end tests deploy as an app. It listens on $PORT0 (all
// interfaces) and answers:
//
//	GET /        "hello from <AGORA_TASK_ID> <MESSAGE>"
//	GET /health  200, or 500 when $UNHEALTHY is set
//	GET /pid     its process ID (so that a test can kill -9 it)
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strconv"
	"syscall"
)

func main() {
	port := os.Getenv("PORT0")
	if port == "" {
		log.Fatal("testserver: PORT0 is not set")
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "hello from %s %s\n", os.Getenv("AGORA_TASK_ID"), os.Getenv("MESSAGE"))
	})
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) {
		if os.Getenv("UNHEALTHY") != "" {
			http.Error(w, "unhealthy", http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "ok")
	})
	mux.HandleFunc("/pid", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintln(w, strconv.Itoa(os.Getpid()))
	})
	ln, err := net.Listen("tcp", net.JoinHostPort("", port))
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	log.Printf("testserver listening on %s", ln.Addr())
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Fatal(err)
	}
}
