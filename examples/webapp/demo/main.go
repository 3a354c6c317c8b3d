package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

func main() {
	role := filepath.Base(os.Args[0])
	args := os.Args[1:]
	if role == "demo" && len(args) > 0 {
		role, args = args[0], args[1:]
	}
	fs := flag.NewFlagSet(role, flag.ExitOnError)
	listen := fs.String("listen", ":8080", "address to serve on")
	store := fs.String("store", "kv:6379", "the kv service")
	upstream := fs.String("upstream", "http://api:9000", "the api")
	dir := fs.String("dir", "/data", "where kv keeps its data")
	ping := fs.String("ping", "", "check that a kv answers at this address, and exit")
	fs.Parse(args)
	log.SetFlags(0)
	switch role {
	case "kv":
		if *ping != "" {
			if _, err := get("http://" + *ping + "/_ping"); err != nil {
				log.Fatal(err)
			}
			return
		}
		serveKV(*listen, *dir)
	case "migrate":
		if err := put("http://"+*store+"/schema", "1"); err != nil {
			log.Fatalf("migrate: %v", err)
		}
		log.Println("migrated the store to schema 1")
	case "api":
		serveAPI(*listen, "http://"+*store)
	case "web":
		u, err := url.Parse(*upstream)
		if err != nil {
			log.Fatal(err)
		}
		proxy := httputil.NewSingleHostReverseProxy(u)
		mux := http.NewServeMux()
		mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
		mux.Handle("/", proxy)
		log.Printf("web: serving %s, proxying to %s", *listen, *upstream)
		log.Fatal(http.ListenAndServe(*listen, mux))
	default:
		log.Fatalf("unknown role %q: want web, api, migrate or kv", role)
	}
}

func serveKV(listen, dir string) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Fatal(err)
	}
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		key := strings.Trim(r.URL.Path, "/")
		if key == "_ping" {
			io.WriteString(w, "pong\n")
			return
		}
		if key == "" || strings.ContainsAny(key, "/.") {
			http.Error(w, "bad key", http.StatusBadRequest)
			return
		}
		path := filepath.Join(dir, key)
		switch r.Method {
		case http.MethodGet:
			data, err := os.ReadFile(path)
			if err != nil {
				http.NotFound(w, r)
				return
			}
			w.Write(data)
		case http.MethodPut:
			data, _ := io.ReadAll(r.Body)
			tmp := path + ".tmp"
			if err := os.WriteFile(tmp, data, 0o644); err != nil || os.Rename(tmp, path) != nil {
				http.Error(w, "write failed", http.StatusInternalServerError)
			}
		default:
			http.Error(w, "GET or PUT", http.StatusMethodNotAllowed)
		}
	})
	log.Printf("kv: serving %s from %s", listen, dir)
	log.Fatal(http.ListenAndServe(listen, nil))
}

func serveAPI(listen, store string) {
	greeting := os.Getenv("GREETING")
	http.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		if _, err := get(store + "/schema"); err != nil {
			http.Error(w, "store not ready: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		io.WriteString(w, "ok\n")
	})
	http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		schema, err := get(store + "/schema")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		n := 0
		if v, err := get(store + "/visits"); err == nil {
			n, _ = strconv.Atoi(v)
		}
		n++
		if err := put(store+"/visits", strconv.Itoa(n)); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		host, _ := os.Hostname()
		fmt.Fprintf(w, "%s (visit %d, schema %s, served by %s)\n", greeting, n, schema, host)
	})
	log.Printf("api: serving %s, store %s", listen, store)
	log.Fatal(http.ListenAndServe(listen, nil))
}

var client = &http.Client{Timeout: 5 * time.Second}

func get(u string) (string, error) {
	resp, err := client.Get(u)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return strings.TrimSpace(string(data)), nil
}

func put(u, value string) error {
	req, _ := http.NewRequest(http.MethodPut, u, strings.NewReader(value))
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("PUT %s: %s", u, resp.Status)
	}
	return nil
}
