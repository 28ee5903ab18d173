package loyal_test

import (
	"fmt"
	"os"
	"path/filepath"

	loyal "github.com/loyal-engine/loyal/bindings/go"
)

func Example() {
	dir, _ := os.MkdirTemp("", "loyal-example")
	defer os.RemoveAll(dir)
	db, err := loyal.Open(filepath.Join(dir, "shop.db"), nil)
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.ApplyProgram(`{"currencies": [{"name": "points"}], "rules": [{"name": "purchase",
		"event": "purchase", "award": {"points": "floor(event.amount)"}}]}`)
	db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "order-1001",
		Properties: map[string]any{"amount": 42.5}})
	db.Debit(loyal.Posting{Member: "alice", Currency: "points", Amount: 10, Key: "coffee-1"})
	balance, _ := db.Balance("alice", "points", loyal.Now)
	fmt.Println("alice has", balance.Available, "points")
	// Output: alice has 32 points
}
