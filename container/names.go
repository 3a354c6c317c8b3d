package container

import (
	"crypto/rand"
	"math/big"
)

// RandomName is a name in Docker's style, adjective_scientist, for a
// container created without --name.
func RandomName() string {
	return pick(adjectives) + "_" + pick(scientists)
}

func pick(list []string) string {
	n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(list))))
	return list[n.Int64()]
}

var adjectives = []string{
	"admiring", "agitated", "amazing", "awesome", "blissful", "bold", "brave", "busy", "charming", "clever",
	"compassionate", "competent", "confident", "cool", "dazzling", "determined", "eager", "ecstatic", "elastic",
	"elegant", "epic", "exciting", "fervent", "festive", "focused", "friendly", "gallant", "gifted", "happy",
	"hopeful", "inspiring", "jolly", "keen", "kind", "laughing", "loving", "lucid", "magical", "modest", "nice",
	"nifty", "optimistic", "peaceful", "practical", "priceless", "quirky", "relaxed", "serene", "sharp", "stoic",
	"sweet", "tender", "trusting", "upbeat", "vibrant", "vigilant", "wizardly", "wonderful", "youthful", "zealous",
}

var scientists = []string{
	"agnesi", "albattani", "archimedes", "babbage", "bardeen", "bohr", "boole", "brattain", "cannon", "carson",
	"curie", "darwin", "dijkstra", "einstein", "euclid", "euler", "fermat", "feynman", "franklin", "galileo",
	"gauss", "goldberg", "hamilton", "hawking", "heisenberg", "hopper", "hypatia", "johnson", "kepler", "knuth",
	"lamarr", "liskov", "lovelace", "mayer", "mcclintock", "meitner", "newton", "noether", "pascal", "pasteur",
	"perlman", "planck", "ritchie", "sammet", "shannon", "thompson", "torvalds", "turing", "wilson", "wozniak",
}
