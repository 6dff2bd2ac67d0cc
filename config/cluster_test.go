package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestClusterNodeIsAnIndexOrAStatefulSetPodName(t *testing.T) {
	for _, tc := range []struct {
		c    Cluster
		want int
		err  string
	}{
		{Cluster{Nodes: 1}, 0, ""},
		{Cluster{Nodes: 4, Node: "3"}, 3, ""},
		{Cluster{Nodes: 4, Node: "streetwatch-2"}, 2, ""},
		{Cluster{Nodes: 12, Node: "street-watch-11"}, 11, ""},
		{Cluster{Nodes: 4, Node: "streetwatch-4"}, 0, "node 4 of 4 nodes"},
		{Cluster{Nodes: 4, Node: "streetwatch"}, 0, "ending in -INDEX"},
		{Cluster{Nodes: 4, Node: "${POD_NAME}"}, 0, "ending in -INDEX"},
		{Cluster{Nodes: 4}, 0, "ending in -INDEX"},
	} {
		got, err := tc.c.Index()
		if tc.err == "" && (err != nil || got != tc.want) {
			t.Errorf("%+v: %d, %v; want %d", tc.c, got, err, tc.want)
		}
		if tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)) {
			t.Errorf("%+v: error %v, want one saying %q", tc.c, err, tc.err)
		}
	}
}

// Rendezvous hashing: cameras spread evenly; going from 4 to 5 nodes moves
// only the cameras the new node wins, about a fifth; every camera has one
// owner whatever node asks.
func TestClusterOwnersSpreadEvenlyAndAddingANodeMovesAboutOneNth(t *testing.T) {
	const cams = 2000
	four, five := Cluster{Nodes: 4}, Cluster{Nodes: 5}
	per := make([]int, 4)
	moved := 0
	for i := range cams {
		id := fmt.Sprintf("baiyun-station-%03d", i)
		a, b := four.Owner(id), five.Owner(id)
		per[a]++
		if a != b {
			moved++
			if b != 4 {
				t.Fatalf("%s moved from node %d to %d, not to the new node", id, a, b)
			}
		}
	}
	for i, n := range per {
		if n < cams/4*85/100 || n > cams/4*115/100 {
			t.Errorf("node %d of 4 has %d of %d cameras, want %d ± 15%%", i, n, cams, cams/4)
		}
	}
	if f := float64(moved) / cams; f < 0.16 || f > 0.24 {
		t.Errorf("adding a fifth node moved %.3f of the cameras, want about 0.2", f)
	}
}

func TestSeveralNodesNeedPostgreSQLAndS3AndSplitTheCameras(t *testing.T) {
	doc := `cluster: {nodes: 3, node: "${SW_TEST_POD}"}
cameras:
` + func() string {
		var b strings.Builder
		for i := range 30 {
			fmt.Fprintf(&b, "  - {id: cam-%d, url: \"rtsp://127.0.0.1:8554/%d\"}\n", i, i)
		}
		return b.String()
	}()
	t.Setenv("SW_TEST_POD", "streetwatch-1")
	_, err := Parse([]byte(doc))
	if err == nil || !strings.Contains(err.Error(), "dispatch.database: cluster.nodes is 3") || !strings.Contains(err.Error(), "evidence.s3.endpoint: cluster.nodes is 3") {
		t.Fatalf("3 nodes on SQLite and a local folder: %v", err)
	}
	shared := doc + `dispatch: {database: "postgres://sw@db:5432/sw"}
evidence: {s3: {endpoint: "minio:9000", bucket: evidence, access_key: k, secret_key: s}}
`
	seen := map[string]int{}
	for node := range 3 {
		t.Setenv("SW_TEST_POD", fmt.Sprintf("streetwatch-%d", node))
		cfg, err := Parse([]byte(shared))
		if err != nil {
			t.Fatal(err)
		}
		mine := cfg.ForThisNode()
		if len(mine.Cameras) == 0 || len(mine.Cameras) == 30 || len(cfg.Cameras) != 30 {
			t.Errorf("node %d watches %d of %d cameras", node, len(mine.Cameras), len(cfg.Cameras))
		}
		for _, c := range mine.Cameras {
			seen[c.ID]++
		}
	}
	for i := range 30 {
		if n := seen[fmt.Sprintf("cam-%d", i)]; n != 1 {
			t.Errorf("cam-%d watched by %d nodes", i, n)
		}
	}
	t.Setenv("SW_TEST_POD", "streetwatch-3")
	if _, err := Parse([]byte(shared)); err == nil || !strings.Contains(err.Error(), "cluster.node: node 3 of 3 nodes") {
		t.Errorf("node 3 of 3: %v", err)
	}
}
