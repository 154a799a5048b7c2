// Package other gives the tsgen test a second type named Node (names collide across packages).
package other

type Node struct {
	Value int `json:"value"`
}

type Color string

const (
	Red  Color = "red"
	Blue Color = "blue"
)
