package deploy

import (
	"bufio"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// No Docker engine runs here and no Dockerfile parser module is in go.mod, so
// these checks read ../Dockerfile the way BuildKit does where it matters:
// continuation lines, known instructions, stages and the ARGs they use.

type instruction struct {
	line int
	cmd  string // upper case
	args string
}

func parseDockerfile(t *testing.T, path string) []instruction {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []instruction
	var cur strings.Builder
	start := 0
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		if trim == "" || strings.HasPrefix(trim, "#") {
			continue // comments and blank lines may sit inside a continuation too
		}
		if cur.Len() == 0 {
			start = n
		}
		if body, ok := strings.CutSuffix(strings.TrimRight(line, " \t"), `\`); ok {
			cur.WriteString(body + " ")
			continue
		}
		cur.WriteString(line)
		cmd, args, _ := strings.Cut(strings.TrimSpace(cur.String()), " ")
		out = append(out, instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
		cur.Reset()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cur.Len() > 0 {
		t.Fatalf("%s: line %d: continuation at end of file", path, start)
	}
	return out
}

var knownInstructions = []string{"ADD", "ARG", "CMD", "COPY", "ENTRYPOINT", "ENV", "EXPOSE", "FROM", "HEALTHCHECK",
	"LABEL", "ONBUILD", "RUN", "SHELL", "STOPSIGNAL", "USER", "VOLUME", "WORKDIR"}

var argRefRE = regexp.MustCompile(`\$\{?([A-Za-z_][A-Za-z0-9_]*)`)

func TestDockerfileIsWellFormed(t *testing.T) {
	ins := parseDockerfile(t, "../Dockerfile")
	if len(ins) == 0 || (ins[0].cmd != "ARG" && ins[0].cmd != "FROM") {
		t.Fatal("Dockerfile must start with ARG or FROM")
	}
	globalArgs := map[string]bool{}
	stages := map[string]bool{}
	var stageArgs map[string]bool
	inStage := false
	final := 0
	for i, in := range ins {
		if !slices.Contains(knownInstructions, in.cmd) {
			t.Errorf("line %d: unknown instruction %q", in.line, in.cmd)
			continue
		}
		if !inStage && in.cmd != "ARG" && in.cmd != "FROM" {
			t.Errorf("line %d: %s before the first FROM", in.line, in.cmd)
		}
		switch in.cmd {
		case "ARG":
			name, _, _ := strings.Cut(in.args, "=")
			if inStage {
				stageArgs[name] = true
			} else {
				globalArgs[name] = true
			}
		case "FROM":
			f := strings.Fields(in.args)
			if len(f) != 1 && (len(f) != 3 || !strings.EqualFold(f[1], "AS")) {
				t.Errorf("line %d: FROM %s: want IMAGE [AS NAME]", in.line, in.args)
			}
			// A FROM may use only global ARGs; it may name an earlier stage.
			for _, m := range argRefRE.FindAllStringSubmatch(f[0], -1) {
				if !globalArgs[m[1]] {
					t.Errorf("line %d: FROM uses $%s, not declared by an ARG before the first FROM", in.line, m[1])
				}
			}
			if base, _, ok := strings.Cut(f[0], "${"); ok && !strings.Contains(base, "/") && !strings.Contains(base, ":") && base != "" {
				// runtime-${VARIANT}, ort-${VARIANT}: every variant must be a stage.
				for _, v := range []string{"gpu", "cpu"} {
					if !stages[base+v] {
						t.Errorf("line %d: FROM %s: no stage %s%s", in.line, f[0], base, v)
					}
				}
			}
			if len(f) == 3 {
				if stages[f[2]] {
					t.Errorf("line %d: stage %s defined twice", in.line, f[2])
				}
				stages[f[2]] = true
			}
			inStage, stageArgs, final = true, map[string]bool{}, i
		case "COPY":
			for _, flag := range strings.Fields(in.args) {
				if from, ok := strings.CutPrefix(flag, "--from="); ok && !stages[from] {
					t.Errorf("line %d: COPY --from=%s: no earlier stage of that name", in.line, from)
				}
			}
		case "RUN", "LABEL", "ENV":
			// ARGs are visible in a stage only after it re-declares them.
			for _, m := range argRefRE.FindAllStringSubmatch(in.args, -1) {
				if globalArgs[m[1]] && !stageArgs[m[1]] {
					t.Errorf("line %d: %s uses $%s without an ARG %s in this stage", in.line, in.cmd, m[1], m[1])
				}
			}
		case "ENTRYPOINT", "CMD", "VOLUME":
			if !strings.HasPrefix(in.args, "[") {
				t.Errorf("line %d: %s should use the JSON (exec) form", in.line, in.cmd)
			}
		}
	}
	// The image the brief asks for: non-root, health-checked, the volumes, the port.
	want := map[string]string{
		"USER":        "streetwatch",
		"EXPOSE":      "8080",
		"VOLUME":      `["/etc/streetwatch", "/var/lib/streetwatch"]`,
		"ENTRYPOINT":  `["streetwatch"]`,
		"CMD":         `["run", "--config", "/etc/streetwatch/streetwatch.yaml"]`,
		"HEALTHCHECK": "/healthz",
		"ENV":         "STREETWATCH_ORT_LIB=/opt/onnxruntime/lib/libonnxruntime.so",
	}
	for cmd, w := range want {
		found := false
		for _, in := range ins[final:] {
			if in.cmd == cmd && strings.Contains(in.args, w) {
				found = true
			}
		}
		if !found {
			t.Errorf("final stage lacks %s %s", cmd, w)
		}
	}
	for _, s := range []string{"build", "ort-gpu", "ort-cpu", "runtime-gpu", "runtime-cpu"} {
		if !stages[s] {
			t.Errorf("stage %s missing", s)
		}
	}
}

func TestDockerfileCopiesFilesThatExist(t *testing.T) {
	for _, in := range parseDockerfile(t, "../Dockerfile") {
		if in.cmd != "COPY" || strings.Contains(in.args, "--from=") {
			continue
		}
		f := strings.Fields(in.args)
		for _, src := range f[:len(f)-1] {
			if strings.HasPrefix(src, "--") || src == "." {
				continue
			}
			if _, err := os.Stat("../" + src); err != nil {
				t.Errorf("line %d: COPY %s: %v", in.line, src, err)
			}
		}
	}
}
