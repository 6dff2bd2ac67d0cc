package stations

import (
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// CSV columns of a weighbridge export, in any order; the first row names
// them. record_id, time and net_kg are required; a file's station is
// given by whoever imports it.
var (
	csvRequired = []string{"record_id", "time", "net_kg"}
	csvColumns  = []string{"record_id", "time", "net_kg", "gross_kg", "tare_kg", "plate", "operator"}
)

// CSVColumns lists the columns ReadCSV knows.
func CSVColumns() []string { return append([]string(nil), csvColumns...) }

// Row is one data row of a CSV file: its line, what it says, and what
// could not even be read (a number that is not one). Check does the rest.
type Row struct {
	Line     int
	Input    Input
	Problems []Problem
}

// ReadCSV reads a weighbridge export. A bad header is an error (nothing
// can be read); a bad row is a Row with Problems, and reading goes on.
// Cells are trimmed; a UTF-8 byte-order mark (Excel's) is skipped.
func ReadCSV(r io.Reader) ([]Row, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1 // a short row is that row's problem
	header, err := cr.Read()
	if errors.Is(err, io.EOF) {
		return nil, errors.New("line 1: empty file: a header row is required (" + strings.Join(csvColumns, ",") + ")")
	}
	if err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	col := map[string]int{}
	for i, name := range header {
		name = strings.ToLower(strings.TrimSpace(strings.TrimPrefix(name, "\ufeff")))
		if !contains(csvColumns, name) {
			return nil, fmt.Errorf("line 1: unknown column %q (known: %s)", name, strings.Join(csvColumns, ", "))
		}
		if _, dup := col[name]; dup {
			return nil, fmt.Errorf("line 1: column %q twice", name)
		}
		col[name] = i
	}
	for _, name := range csvRequired {
		if _, ok := col[name]; !ok {
			return nil, fmt.Errorf("line 1: column %s is required (header: %s)", name, strings.Join(csvColumns, ","))
		}
	}
	var rows []Row
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return rows, nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				rows = append(rows, Row{Line: pe.StartLine, Problems: []Problem{{Field: "csv", Error: pe.Err.Error()}}})
				continue
			}
			return rows, err
		}
		line, _ := cr.FieldPos(0)
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // a blank line at the end of a hand-edited file
		}
		row := Row{Line: line}
		if len(rec) != len(header) {
			row.Problems = append(row.Problems, Problem{Field: "csv", Error: fmt.Sprintf("%d cells, the header has %d", len(rec), len(header))})
			rows = append(rows, row)
			continue
		}
		cell := func(name string) string {
			if i, ok := col[name]; ok {
				return strings.TrimSpace(rec[i])
			}
			return ""
		}
		row.Input = Input{RecordID: cell("record_id"), Time: cell("time"), Plate: cell("plate"), Operator: cell("operator")}
		for _, f := range []struct {
			name string
			dst  **float64
		}{{"net_kg", &row.Input.NetKG}, {"gross_kg", &row.Input.GrossKG}, {"tare_kg", &row.Input.TareKG}} {
			v := cell(f.name)
			if v == "" {
				continue
			}
			n, err := strconv.ParseFloat(v, 64)
			if err != nil {
				row.Problems = append(row.Problems, Problem{Field: f.name, Error: fmt.Sprintf("expected a number of kilograms (got %q)", clip(v))})
				continue
			}
			*f.dst = &n
		}
		rows = append(rows, row)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
