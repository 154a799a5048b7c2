// Command linkattack is what a hostile agent could run inside its loop: it talks
// to the relay's host-exec socket directly, bypassing the well-behaved forwarder.
// The hostile integration test builds it statically and runs it in the container.
//
//	linkattack flood SOCKET N ARGV...   N concurrent calls of ARGV; prints one line per call:
//	                                     "exit CODE MS MESSAGE" or "running" if no answer in 3 s
//	linkattack raw SOCKET HEX           send raw bytes, print the answer frames ("frame T LEN TEXT")
//	linkattack rawcall SOCKET HEX ARGV... send a valid request for ARGV, then the raw bytes
package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"strconv"
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
