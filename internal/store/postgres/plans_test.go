package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/testutil/pgtest"
)

// TestGroupPlans checks the plans the group's statements keep under
// groupSettingsSQL (generic plans, made once per connection): made on
// empty tables never analyzed, as a new database's are, and on tables
// filled and analyzed, they reach every table that grows by its keys,
// through an index, never by reading it (or a partial index) whole; and none is compiled (JIT) at each execution, as the cost of a
// disabled plan kind would make it.
func TestGroupPlans(t *testing.T) {
	url := pgtest.NewDatabase(t)
	openURL(t, url).Close() // the schema
	ctx := context.Background()
	c, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	stmts := []struct {
		name, sql, args string
	}{
		{"lockUsage", lockUsageSQL, `'{E1}'`},
		{"relockUsage", relockUsageSQL, `'{E1}'`},
		{"lookupRefs", lookupRefsSQL, `'{E1}', '{"\\x00"}'`},
		{"write", writeSQL, `'{E1}', '{I1}', '{1}', '{"\\x00"}', '{"\\x00"}', '{t}', '{1}', '{NULL}', '{"\\x00"}', '{1}', '{0}', '{E1}', '{E1}', '{1}', '{0}'`},
		{"lockCounter", lockCounterSQL, ``},
		{"append", appendSQL, `'{"\\x00"}', '{"\\x00"}'`},
		{"complete", completeSQL, `'{E1}', '{I1}', '{1}'`},
	}
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			// Rows such as a store holds: many distributions, many
			// invalidations, some of them in progress, a long log.
			if _, err := c.Exec(ctx, fillSQL); err != nil {
				t.Fatal(err)
			}
		}
		for i, st := range stmts {
			tx, err := c.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := tx.Exec(ctx, groupSettingsSQL); err != nil {
				t.Fatal(err)
			}
			name := fmt.Sprintf("p%d_%v", i, analyzed)
			if _, err := tx.Exec(ctx, `PREPARE `+name+` AS `+st.sql); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			var plan []map[string]any
			if err := tx.QueryRow(ctx, `EXPLAIN (FORMAT JSON) EXECUTE `+name+args(st.args)).Scan(&plan); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			text, _ := json.MarshalIndent(plan, "", " ")
			if _, ok := plan[0]["JIT"]; ok {
				t.Errorf("%s (analyzed %v): a plan compiled at each execution (JIT):\n%s", st.name, analyzed, text)
			}
			if bad := wholeScans(plan[0]["Plan"].(map[string]any)); bad != "" {
				t.Errorf("%s (analyzed %v): %s:\n%s", st.name, analyzed, bad, text)
			}
			tx.Rollback(ctx)
		}
	}
}

// fillSQL fills the tables that grow and analyzes them.
const fillSQL = `INSERT INTO invalidations (distribution_id, id, seq, caller_reference, ref_hash, in_progress,
		create_time, complete_time, paths, file_paths, wildcard_paths)
	SELECT 'E' || (g % 100), 'I' || g, g, convert_to('r' || g, 'UTF8'), sha256(convert_to('r' || g, 'UTF8')),
		g = 5000, g, CASE WHEN g = 5000 THEN NULL ELSE g END, '\x00', 1, 0
	FROM generate_series(1, 5000) AS g;
	INSERT INTO invalidation_added (distribution_id, file_paths) SELECT 'E' || g, 50 FROM generate_series(0, 99) AS g;
	INSERT INTO invalidation_freed (distribution_id, file_paths) SELECT 'E' || g, 40 FROM generate_series(0, 99) AS g;
	INSERT INTO events (pos, data) SELECT g, '\x00' FROM generate_series(1, 5000) AS g;
	INSERT INTO event_keys (key, pos) SELECT convert_to('k' || g, 'UTF8'), g FROM generate_series(1, 5000) AS g;
	ANALYZE`

// grows lists the tables that grow: a plan must reach their rows by key.
var grows = map[string]bool{"invalidations": true, "events": true, "event_keys": true,
	"invalidation_added": true, "invalidation_freed": true}

// wholeScans returns what in the plan node n (and below) reads a table
// that grows whole, or more of it than the statement's keys lead to: a
// sequential scan, an index scan without an index condition (every
// entry of the index, or of a partial index), a hash or merge join.
func wholeScans(n map[string]any) string {
	typ, _ := n["Node Type"].(string)
	rel, _ := n["Relation Name"].(string)
	switch {
	case typ == "Hash Join" || typ == "Merge Join":
		return typ
	case grows[rel] && typ == "Seq Scan":
		return "Seq Scan on " + rel
	case grows[rel] && (typ == "Index Scan" || typ == "Index Only Scan"):
		if _, ok := n["Index Cond"]; !ok {
			return typ + " on " + rel + " using " + n["Index Name"].(string) + " without an index condition"
		}
	}
	if typ == "Bitmap Index Scan" {
		if _, ok := n["Index Cond"]; !ok {
			return "Bitmap Index Scan using " + n["Index Name"].(string) + " without an index condition"
		}
	}
	subs, _ := n["Plans"].([]any)
	for _, c := range subs {
		if bad := wholeScans(c.(map[string]any)); bad != "" {
			return bad
		}
	}
	return ""
}

func args(a string) string {
	if a == "" {
		return ""
	}
	return "(" + a + ")"
}
