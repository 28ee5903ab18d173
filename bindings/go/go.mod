module github.com/loyal-engine/loyal/bindings/go

go 1.23
