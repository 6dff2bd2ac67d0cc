package config

import (
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Cluster spreads the cameras over several StreetWatch processes (nodes)
// that run the same config: each node watches the cameras that rendezvous
// hashing of their ids gives it. Adding a node moves only the cameras the
// new node wins, about 1/N of them; removing one moves only its own. The
// nodes share the ticket database (PostgreSQL) and the evidence store
// (S3): any node serves the review page and the API for every ticket.
//
//	cluster: {nodes: 4, node: "${POD_NAME}"}   # a StatefulSet pod name: streetwatch-3 → 3
type Cluster struct {
	// Nodes is how many nodes share the cameras (default 1).
	Nodes int `yaml:"nodes"`
	// Node is this node: its index 0..nodes-1, or a name ending in -INDEX
	// (a StatefulSet pod's name, from the environment with ${VAR}).
	Node string `yaml:"node"`
}

// Index is this node's index (0 with one node).
func (c Cluster) Index() (int, error) {
	if c.Nodes <= 1 && c.Node == "" {
		return 0, nil
	}
	s := c.Node
	if i := strings.LastIndexByte(s, '-'); i >= 0 {
		s = s[i+1:]
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("want an index or a name ending in -INDEX, like a StatefulSet pod's (got %q)", c.Node)
	}
	if n >= max(c.Nodes, 1) {
		return 0, fmt.Errorf("node %d of %d nodes (indices start at 0)", n, max(c.Nodes, 1))
	}
	return n, nil
}

// Owner is the node that watches the camera: the node with the highest
// hash of (camera id, node index), so each camera's choice depends only
// on its id and the node count.
func (c Cluster) Owner(camera string) int {
	best, bestHash := 0, uint64(0)
	for i := range max(c.Nodes, 1) {
		h := fnv.New64a()
		h.Write([]byte(camera))
		var idx [8]byte
		binary.BigEndian.PutUint64(idx[:], uint64(i))
		h.Write(idx[:])
		if v := mix(h.Sum64()); i == 0 || v > bestHash {
			best, bestHash = i, v
		}
	}
	return best
}

// mix spreads FNV's output over all 64 bits (splitmix64's finaliser):
// FNV alone leaves the high bits of similar inputs correlated, which
// would skew the choice between nodes.
func mix(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// ForThisNode is a copy of c with only the cameras this node watches
// (all of them with one node). Call it on a validated config.
func (c *Config) ForThisNode() *Config {
	if c.Cluster.Nodes <= 1 {
		return c
	}
	me, _ := c.Cluster.Index() // validated
	out := *c
	out.Cameras = nil
	for _, cam := range c.Cameras {
		if c.Cluster.Owner(cam.ID) == me {
			out.Cameras = append(out.Cameras, cam)
		}
	}
	return &out
}

// validateCluster: several nodes need a shared ticket database and a
// shared evidence store, or each node would keep its own tickets and
// evidence and the review page would show a part of them.
func (c *Config) validateCluster(bad func(path, format string, args ...any)) {
	cl := c.Cluster
	if cl.Nodes < 0 || cl.Nodes > 1000 {
		bad("cluster.nodes", "must be between 1 and 1000 (got %d)", cl.Nodes)
		return
	}
	if _, err := cl.Index(); err != nil {
		bad("cluster.node", "%v", err)
	}
	if cl.Nodes <= 1 {
		return
	}
	if !IsPostgresURL(c.Dispatch.Database) {
		bad("dispatch.database", "cluster.nodes is %d: the nodes must share a PostgreSQL database (postgres://...), not a SQLite file", cl.Nodes)
	}
	if c.Evidence.S3.Endpoint == "" {
		bad("evidence.s3.endpoint", "cluster.nodes is %d: the nodes must share an S3 evidence store, not a local folder", cl.Nodes)
	}
}
