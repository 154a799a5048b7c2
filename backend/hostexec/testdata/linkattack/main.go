// Command linkattack is what a hostile agent could run inside its loop: it talks
// to the relay's host-exec socket directly, bypassing the well-behaved forwarder.
// The hostile integration test builds it statically and runs it in the container.
//
//	linkattack flood SOCKET N ARGV...   N concurrent calls of ARGV; prints one line per call:
//	                                     "exit CODE MS MESSAGE" or "running" if no answer in 3 s
//	linkattack raw SOCKET HEX           send raw bytes, print the answer frames ("frame T LEN TEXT")
//	linkattack rawcall SOCKET HEX ARGV... send a valid request for ARGV, then the raw bytes
//	linkattack tcpflood ADDR N          N concurrent HTTP requests to ADDR (the gateway port);
//	                                     prints "status CODE MS BODY" or "held" if no answer in 3 s
package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/loopat/desktop/backend/hostexec/wire"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: linkattack flood|raw|rawcall SOCKET ...")
		os.Exit(2)
	}
	sock := os.Args[2]
	switch os.Args[1] {
	case "flood":
		n, _ := strconv.Atoi(os.Args[3])
		flood(sock, n, os.Args[4:])
	case "tcpflood":
		n, _ := strconv.Atoi(os.Args[3])
		tcpFlood(sock, n)
	case "raw":
		b, err := hex.DecodeString(os.Args[3])
		must(err)
		c := dial(sock)
		go c.Write(b)
		printFrames(c, 15*time.Second)
	case "rawcall":
		b, err := hex.DecodeString(os.Args[3])
		must(err)
		c := dial(sock)
		fw := wire.NewWriter(c)
		must(fw.Frame(wire.TypeRequest, wire.EncodeRequest(wire.Request{Argv: os.Args[4:]})))
		time.Sleep(300 * time.Millisecond) // the call is running
		go c.Write(b)
		printFrames(c, 15*time.Second)
	}
}

func must(err error) {
	if err != nil {
		fmt.Fprintln(os.Stderr, "linkattack:", err)
		os.Exit(1)
	}
}

func dial(sock string) net.Conn {
	c, err := net.Dial("unix", sock)
	must(err)
	return c
}

func flood(sock string, n int, argv []string) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := dial(sock) // held open: a running call keeps its process
			start := time.Now()
			fw := wire.NewWriter(c)
			if err := fw.Frame(wire.TypeRequest, wire.EncodeRequest(wire.Request{Argv: argv})); err != nil {
				mu.Lock()
				fmt.Println("senderr", err)
				mu.Unlock()
				return
			}
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			for {
				typ, p, err := wire.ReadFrame(c, wire.MaxData)
				if err != nil {
					mu.Lock()
					if ne, ok := err.(net.Error); ok && ne.Timeout() {
						fmt.Println("running")
					} else {
						fmt.Println("readerr", err)
					}
					mu.Unlock()
					return
				}
				if typ == wire.TypeExit {
					e, _ := wire.DecodeExit(p)
					mu.Lock()
					fmt.Printf("exit %d %d %s\n", e.Code, time.Since(start).Milliseconds(), e.Message)
					mu.Unlock()
					c.Close()
					return
				}
			}
		}()
	}
	wg.Wait()
	// Keep the running calls alive until killed: the test inspects the host meanwhile.
	fmt.Println("done")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}

func printFrames(c net.Conn, d time.Duration) {
	c.SetReadDeadline(time.Now().Add(d))
	start := time.Now()
	for {
		typ, p, err := wire.ReadFrame(c, wire.MaxData)
		if err != nil {
			fmt.Printf("end %d %v\n", time.Since(start).Milliseconds(), err)
			return
		}
		if typ == wire.TypeExit {
			e, _ := wire.DecodeExit(p)
			fmt.Printf("exit %d %d %s\n", e.Code, time.Since(start).Milliseconds(), e.Message)
			return
		}
		fmt.Printf("frame %c %d\n", typ, len(p))
	}
}

func tcpFlood(addr string, n int) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			say := func(format string, a ...any) {
				mu.Lock()
				fmt.Printf(format+"\n", a...)
				mu.Unlock()
			}
			c, err := net.Dial("tcp", addr)
			if err != nil {
				say("dialerr %v", err)
				return
			}
			start := time.Now()
			fmt.Fprintf(c, "POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}")
			c.SetReadDeadline(time.Now().Add(3 * time.Second))
			br := bufio.NewReader(c)
			status, err := br.ReadString('\n')
			if err != nil {
				if ne, ok := err.(net.Error); ok && ne.Timeout() {
					say("held")
				} else {
					say("readerr %v", err)
				}
				return
			}
			rest, _ := io.ReadAll(io.LimitReader(br, 4096))
			f := strings.Fields(status)
			code := ""
			if len(f) > 1 {
				code = f[1]
			}
			say("status %s %d %s", code, time.Since(start).Milliseconds(), strings.ReplaceAll(string(rest), "\r\n", " "))
			c.Close()
		}()
	}
	wg.Wait()
	fmt.Println("done")
	os.Stdout.Sync()
	time.Sleep(time.Hour)
}
