// quickstart is a short program embedding loyal from Go: run it with a database path.
package main

import (
	"fmt"
	"log"
	"os"

	loyal "github.com/loyal-engine/loyal/bindings/go"
)

func main() {
	path := "shop.db"
	if len(os.Args) > 1 {
		path = os.Args[1]
	}
	db, err := loyal.Open(path, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ApplyProgram(`{"currencies": [{"name": "points"}], "rules": [{"name":
		"purchase", "event": "purchase", "award": {"points": "floor(event.amount)"}}]}`); err != nil {
		log.Fatal(err)
	}
	if _, err := db.Track(loyal.Event{Member: "alice", Type: "purchase", Key: "order-1001",
		Properties: map[string]any{"amount": 42.5}}); err != nil {
		log.Fatal(err)
	}
	balance, err := db.Balance("alice", "points", loyal.Now)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("alice has", balance.Available, "points")
}
