// The --strict Go fixture (built with CGO_ENABLED=0: a static binary the
// shim cannot reach). signal.Notify for SIGHUP makes the Go runtime set
// its own handler with a raw rt_sigaction call. Prints "ready pid=N", then
// "got SIGHUP" if a SIGHUP reaches it, and "usr1" for each SIGUSR1.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	c := make(chan os.Signal, 4)
	signal.Notify(c, syscall.SIGHUP, syscall.SIGUSR1)
	fmt.Printf("ready pid=%d\n", os.Getpid())
	for s := range c {
		if s == syscall.SIGHUP {
			fmt.Println("got SIGHUP")
		} else {
			fmt.Println("usr1")
		}
	}
}
