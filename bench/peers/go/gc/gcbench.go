// Peer: GCBench and binary-trees in Go (single goroutine, default GOGC).
// Usage and output as vmrt-bench-gc: gcbench|binarytrees|bigheap time|pause_max|pause_p99|rss|pauses N.
// Pauses come from runtime.MemStats.PauseNs (the last 256 stop-the-world pauses).
package main

import (
	"fmt"
	"os"
	"runtime"
	"sort"
	"strconv"
	"syscall"
	"time"
)

type Node struct {
	left, right *Node
	i, j        int32
}

func treeSize(d int) int { return (1 << (d + 1)) - 1 }

func populate(depth int, n *Node) {
	if depth <= 0 {
		return
	}
	depth--
	n.left = &Node{}
	n.right = &Node{}
	populate(depth, n.left)
	populate(depth, n.right)
}

func makeTree(depth int) *Node {
	if depth <= 0 {
		return &Node{}
	}
	return &Node{left: makeTree(depth - 1), right: makeTree(depth - 1)}
}

func gcbench(maxDepth int) {
	stretch, longLived, minDepth := maxDepth+2, maxDepth, 4
	t := makeTree(stretch)
	t = nil
	ll := &Node{}
	populate(longLived, ll)
	arr := make([]float64, 500000)
	for i := 0; i < 500000/2; i++ {
		arr[i] = 1.0 / float64(i)
	}
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 2 * treeSize(stretch) / treeSize(d)
		for i := 0; i < iters; i++ {
			t = &Node{}
			populate(d, t)
			t = nil
		}
		for i := 0; i < iters; i++ {
			t = makeTree(d)
			t = nil
		}
	}
	if ll == nil || arr[1000] != 1.0/1000 {
		os.Exit(1)
	}
	runtime.KeepAlive(t)
}

func check(n *Node) int {
	if n.left == nil {
		return 1
	}
	return 1 + check(n.left) + check(n.right)
}

func binarytrees(n int) {
	minDepth := 4
	maxDepth := n
	if maxDepth < minDepth+2 {
		maxDepth = minDepth + 2
	}
	total := check(makeTree(maxDepth + 1))
	longLived := makeTree(maxDepth)
	for d := minDepth; d <= maxDepth; d += 2 {
		iters := 1 << (maxDepth - d + minDepth)
		c := 0
		for i := 0; i < iters; i++ {
			c += check(makeTree(d))
		}
		total += c
	}
	total += check(longLived)
	if total <= 0 {
		os.Exit(1)
	}
}

// bigheap: as vmrt-bench-gc (N MiB of live depth-10 trees, counted with
// vmrt's 16-byte headers so that both hold the same number of nodes, in one
// slice; then random trees replaced until 3N MiB more were allocated).
func bigheap(mib int) {
	treeBytes := treeSize(10) * (24 + 16)
	ntrees := (mib << 20) / treeBytes
	if ntrees < 1 {
		ntrees = 1
	}
	roots := make([]*Node, ntrees)
	for i := range roots {
		roots[i] = makeTree(10)
	}
	seed := uint64(88172645463325252)
	for k := 0; k < 3*ntrees; k++ {
		seed ^= seed << 13
		seed ^= seed >> 7
		seed ^= seed << 17
		roots[seed%uint64(ntrees)] = makeTree(10)
	}
	c := 0
	for _, t := range roots {
		c += check(t)
	}
	if c != ntrees*treeSize(10) {
		os.Exit(1)
	}
}

func main() {
	if len(os.Args) < 4 {
		os.Exit(2)
	}
	n, _ := strconv.Atoi(os.Args[3])
	t0 := time.Now()
	switch os.Args[1] {
	case "gcbench":
		gcbench(n)
	case "binarytrees":
		binarytrees(n)
	case "bigheap":
		bigheap(n)
	default:
		os.Exit(2)
	}
	elapsed := time.Since(t0)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	k := int(ms.NumGC)
	if k > 256 {
		k = 256
	}
	p := make([]float64, k)
	for i := 0; i < k; i++ {
		p[i] = float64(ms.PauseNs[i]) / 1e3
	}
	sort.Float64s(p)
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	switch os.Args[2] {
	case "time":
		fmt.Printf("%.3f\n", float64(elapsed.Nanoseconds())/1e6)
	case "pause_max":
		if k == 0 {
			fmt.Println("0")
		} else {
			fmt.Printf("%.3f\n", p[k-1])
		}
	case "pause_p99":
		if k == 0 {
			fmt.Println("0")
		} else {
			fmt.Printf("%.3f\n", p[int(0.99*float64(k-1))])
		}
	case "rss":
		fmt.Printf("%d\n", ru.Maxrss)
	case "pauses": // for the CDF plot: one line per pause (us)
		for _, v := range p {
			fmt.Printf("%.3f\n", v)
		}
	default:
		os.Exit(2)
	}
}
