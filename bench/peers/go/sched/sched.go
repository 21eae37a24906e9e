// Go peer of vmrt-bench-sched: the same cases, arguments and units.
// Usage: peer-go-sched CASE N (prints one number; lower is better).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"sync/atomic"
	"time"
)

func skynet(c chan int, num, size int) {
	if size == 1 {
		c <- num
		return
	}
	rc := make(chan int)
	step := size / 10
	for i := 0; i < 10; i++ {
		go skynet(rc, num+i*step, step)
	}
	sum := 0
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func benchSkynet(n int) float64 {
	t0 := time.Now()
	c := make(chan int)
	go skynet(c, 0, n)
	sum := <-c
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	if sum != n*(n-1)/2 {
		fmt.Fprintf(os.Stderr, "skynet: sum %d, expected %d\n", sum, n*(n-1)/2)
		os.Exit(1)
	}
	return ms
}

func benchPingPong(n int, cross bool) float64 {
	if cross {
		runtime.GOMAXPROCS(2)
	} else {
		runtime.GOMAXPROCS(1)
	}
	ping, pong := make(chan int), make(chan int)
	done := make(chan bool)
	t0 := time.Now()
	go func() {
		if cross {
			runtime.LockOSThread()
		}
		for i := 0; i < n; i++ {
			v := <-ping
			pong <- v
		}
		done <- true
	}()
	if cross {
		runtime.LockOSThread()
	}
	for i := 0; i < n; i++ {
		ping <- i
		<-pong
	}
	<-done
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

const ring = 503

func benchRing(n int) float64 {
	var chs [ring]chan int
	for i := range chs {
		chs[i] = make(chan int)
	}
	done := make(chan int, 1)
	for i := 0; i < ring; i++ {
		go func(i int) {
			for token := range chs[i] {
				if token == 0 {
					done <- i
					continue
				}
				chs[(i+1)%ring] <- token - 1
			}
		}(i)
	}
	t0 := time.Now()
	chs[0] <- n
	who := <-done
	ns := float64(time.Since(t0).Nanoseconds()) / float64(n)
	if who != n%ring {
		fmt.Fprintf(os.Stderr, "ring: finished at %d, expected %d\n", who, n%ring)
		os.Exit(1)
	}
	return ns
}

func fib(n int) int {
	if n < 2 {
		return n
	}
	c := make(chan int, 1)
	go func() { c <- fib(n - 1) }()
	b := fib(n - 2)
	return <-c + b
}

func benchFib(n int, procs int) float64 {
	if procs > 0 {
		runtime.GOMAXPROCS(procs)
	}
	t0 := time.Now()
	r := fib(n)
	ms := float64(time.Since(t0).Nanoseconds()) / 1e6
	a, b := 0, 1
	for i := 0; i < n; i++ {
		a, b = b, a+b
	}
	if r != a {
		fmt.Fprintf(os.Stderr, "fib: %d, expected %d\n", r, a)
		os.Exit(1)
	}
	return ms
}

func benchYield(n int) float64 {
	runtime.GOMAXPROCS(1)
	done := make(chan bool, 2)
	t0 := time.Now()
	for k := 0; k < 2; k++ {
		go func() {
			for i := 0; i < n/2; i++ {
				runtime.Gosched()
			}
			done <- true
		}()
	}
	<-done
	<-done
	return float64(time.Since(t0).Nanoseconds()) / float64(n)
}

//go:noinline
func work(x uint64) uint64 {
	return x*6364136223846793005 + 1442695040888963407
}

func benchLatency(n int, q float64) float64 {
	var stop int32
	procs := runtime.GOMAXPROCS(0)
	for i := 0; i < 2*procs; i++ {
		go func(x uint64) {
			for atomic.LoadInt32(&stop) == 0 {
				for k := 0; k < 100; k++ {
					x = work(x)
				}
			}
		}(uint64(i + 1))
	}
	ch := make(chan time.Time, 1)
	lat := make([]int64, n)
	done := make(chan bool)
	go func() {
		for i := 0; i < n; i++ {
			ts := <-ch
			lat[i] = time.Since(ts).Nanoseconds()
		}
		done <- true
	}()
	time.Sleep(200 * time.Microsecond)
	for i := 0; i < n; i++ {
		time.Sleep(200 * time.Microsecond)
		ch <- time.Now()
	}
	<-done
	atomic.StoreInt32(&stop, 1)
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	return float64(lat[int(float64(n-1)*q)]) / 1e3
}

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: peer-go-sched CASE N")
		os.Exit(2)
	}
	n, err := strconv.Atoi(os.Args[2])
	if err != nil || n <= 0 {
		fmt.Fprintln(os.Stderr, "peer-go-sched: N must be positive")
		os.Exit(2)
	}
	var v float64
	switch os.Args[1] {
	case "skynet":
		v = benchSkynet(n)
	case "pingpong_same":
		v = benchPingPong(n, false)
	case "pingpong_cross":
		v = benchPingPong(n, true)
	case "ring":
		v = benchRing(n)
	case "fib_1":
		v = benchFib(n, 1)
	case "fib_all":
		v = benchFib(n, 0)
	case "yield":
		v = benchYield(n)
	case "latency_p50":
		v = benchLatency(n, 0.50)
	case "latency_p99":
		v = benchLatency(n, 0.99)
	default:
		fmt.Fprintf(os.Stderr, "peer-go-sched: unknown case %q\n", os.Args[1])
		os.Exit(2)
	}
	fmt.Printf("%.4g\n", v)
}
