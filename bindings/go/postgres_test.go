package loyal_test

// The Go binding on a PostgreSQL database: opened by URI or by key=value string, shared by
// goroutines with a handle each, and errors that name the server. Skipped without a test
// cluster (LOYAL_TEST_POSTGRES: the URI of its maintenance database, as
// tests/pg/with_cluster.sh sets).

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	loyal "github.com/loyal-engine/loyal/bindings/go"
)

func psql(t *testing.T, server, sql string) {
	t.Helper()
	out, err := exec.Command("psql", "-q", "-v", "ON_ERROR_STOP=1", server, "-c", sql).CombinedOutput()
	if err != nil {
		t.Fatalf("psql %s: %v: %s", sql, err, out)
	}
}

// postgresDatabase creates a database for the test, dropped after it, and returns its URI.
func postgresDatabase(t *testing.T) *url.URL {
	t.Helper()
	server := os.Getenv("LOYAL_TEST_POSTGRES")
	if server == "" {
		t.Skip("no PostgreSQL test cluster (LOYAL_TEST_POSTGRES)")
	}
	name := fmt.Sprintf("loyal_go_%d", time.Now().UnixNano())
	psql(t, server, "CREATE DATABASE "+name)
	t.Cleanup(func() { psql(t, server, "DROP DATABASE "+name+" WITH (FORCE)") })
	uri, err := url.Parse(server)
	if err != nil {
		t.Fatal(err)
	}
	uri.Path = "/" + name
	return uri
}

func TestPostgresOpensLikeAFile(t *testing.T) {
	uri := postgresDatabase(t)
	db := must(loyal.Open(uri.String(), nil))
	must(db.ApplyProgram(program))
	must(db.Credit(loyal.Posting{Member: "alice", Currency: "points", Amount: 30, Key: "k1"}))
	db.Close()
	// The same database by key=value pairs, which only Options.Postgres sends to libpq.
	conninfo := fmt.Sprintf("host=%s user=%s dbname=%s", uri.Query().Get("host"),
		uri.Query().Get("user"), strings.TrimPrefix(uri.Path, "/"))
	again := must(loyal.Open(conninfo, &loyal.Options{NoCreate: true, Postgres: true}))
	defer again.Close()
	if balance := must(again.Balance("alice", "points", time.Time{})); balance.Available != 30 {
		t.Fatalf("alice has %d points, want 30", balance.Available)
	}
	if err := again.Verify(); err != nil {
		t.Fatal(err)
	}
	if _, err := loyal.Open(conninfo, &loyal.Options{NoCreate: true}); !errors.Is(err, loyal.ErrNotFound) {
		t.Fatalf("a key=value string without Postgres opened as %v, want a missing file", err)
	}
}

func TestPostgresOneKeyFromManyHandlesPostsOnce(t *testing.T) {
	uri := postgresDatabase(t).String()
	setup := must(loyal.Open(uri, nil))
	must(setup.ApplyProgram(program))
	setup.Close()
	const handles = 4
	results := make([]loyal.Result, handles)
	errs := make([]error, handles)
	var wg sync.WaitGroup
	for i := 0; i < handles; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			db, err := loyal.Open(uri, nil)
			if err != nil {
				errs[i] = err
				return
			}
			defer db.Close()
			results[i], errs[i] = db.Credit(loyal.Posting{Member: "bob", Currency: "points",
				Amount: 100, Key: "same-key"})
		}(i)
	}
	wg.Wait()
	fresh := 0
	for i := 0; i < handles; i++ {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		if results[i].Txn != results[0].Txn {
			t.Fatalf("handle %d got transaction %d, handle 0 got %d", i, results[i].Txn, results[0].Txn)
		}
		if !results[i].Replayed {
			fresh++
		}
	}
	if fresh != 1 {
		t.Fatalf("%d handles posted, want 1", fresh)
	}
	db := must(loyal.Open(uri, nil))
	defer db.Close()
	if balance := must(db.Balance("bob", "points", time.Time{})); balance.Available != 100 {
		t.Fatalf("bob has %d points, want 100", balance.Available)
	}
}

func TestPostgresUnreachableServerNamesItNotThePassword(t *testing.T) {
	uri := postgresDatabase(t)
	uri.User = url.UserPassword("nobody", "sekret-9")
	uri.Path = "/no_such_database"
	_, err := loyal.Open(uri.String(), nil)
	if !errors.Is(err, loyal.ErrIO) {
		t.Fatalf("got %v, want ErrIO", err)
	}
	if !strings.Contains(err.Error(), "no_such_database") || strings.Contains(err.Error(), "sekret-9") {
		t.Fatalf("message %q should name the database and hide the password", err)
	}
}
