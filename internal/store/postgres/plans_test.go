package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/openfront/openfront/internal/testutil/pgtest"
)

// TestGroupPlans checks the plans the group's statements keep under
// groupSettingsSQL (generic plans, made once per connection): made on
// empty tables, never analyzed and then analyzed, they still reach every
// table that grows by its keys, through an index, never by reading it
// whole; and none is compiled (JIT) at each execution, as the cost of a
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
	// A sequential scan (or a hash or merge join, which reads its inner
	// side whole) of any of these would cost what the table holds.
	whole := regexp.MustCompile(`Seq Scan on (invalidations|events|event_keys|invalidation_added|invalidation_freed)\b`)
	for _, analyzed := range []bool{false, true} {
		if analyzed {
			if _, err := c.Exec(ctx, `ANALYZE`); err != nil {
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
			rows, err := tx.Query(ctx, `EXPLAIN EXECUTE `+name+args(st.args))
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			text := strings.Join(plan, "\n")
			if strings.Contains(text, "JIT") {
				t.Errorf("%s (analyzed %v): a plan compiled at each execution (JIT):\n%s", st.name, analyzed, text)
			}
			if whole.MatchString(text) || strings.Contains(text, "Hash Join") || strings.Contains(text, "Merge Join") ||
				strings.Contains(text, "Hash Anti Join") || strings.Contains(text, "Hash Right Join") {
				t.Errorf("%s (analyzed %v): a plan that reads a table whole:\n%s", st.name, analyzed, text)
			}
			tx.Rollback(ctx)
		}
	}
}

func args(a string) string {
	if a == "" {
		return ""
	}
	return "(" + a + ")"
}
