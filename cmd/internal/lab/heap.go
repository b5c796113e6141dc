package lab

// HeapOverhead is what one held session costs a cluster node's Go heap
// beyond its data (principal, keys and values, which the stores report):
// measured with clusterstore's BenchmarkBytesPerSession, 547 bytes of heap in
// use per session of 226 data bytes at 1,000,000 sessions on one node (477
// at 1,500,000; the map that files them is at its emptiest just after it
// grows, near 1,000,000). docs/benchmarks.md, "Bytes per session", has the
// command and the other stores' figures. The lab and the simulation
// report a node's session heap as its data plus HeapOverhead per session
// held.
const HeapOverhead = 547 - 226

// sessionHeap is the heap that sessions holding data bytes cost a node.
func sessionHeap(data, sessions float64, overhead int) float64 {
	return data + sessions*float64(overhead)
}
