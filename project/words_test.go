package project

import "testing"

// TestUserWords: compose-go's messages in its dependencies' vocabulary
// become the user's: the key and what is wrong with its value.
func TestUserWords(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"validating /p/compose.yaml: services.web.enviroment false schema",
			"validating /p/compose.yaml: services.web additional properties 'enviroment' not allowed"},
		{"validating /p/compose.yaml: servics false schema",
			"validating /p/compose.yaml: (root) additional properties 'servics' not allowed"},
		{`/p/compose.yaml: error while interpolating services.web.pids_limit: failed to cast to expected type: strconv.ParseInt: parsing "abc": invalid syntax`,
			`/p/compose.yaml: services.web.pids_limit: invalid value "abc": want a whole number`},
		{`/p/compose.yaml: error while interpolating services.web.cpus: failed to cast to expected type: strconv.ParseFloat: parsing "abc": invalid syntax`,
			`/p/compose.yaml: services.web.cpus: invalid value "abc": want a number`},
		{`/p/compose.yaml: error while interpolating services.web.read_only: failed to cast to expected type: strconv.ParseBool: parsing "maybe": invalid syntax`,
			`/p/compose.yaml: services.web.read_only: invalid value "maybe": want true or false`},
		{"/p/compose.yaml: decoding failed due to the following error(s):; 'services[web].mem_limit' invalid size: 'abc'",
			"/p/compose.yaml: services.web.mem_limit: invalid size: 'abc'"},
		{`/p/compose.yaml: decoding failed due to the following error(s):; 'services[web].healthcheck.interval' time: invalid duration "abc"`,
			`/p/compose.yaml: services.web.healthcheck.interval: time: invalid duration "abc"`},
		{"service \"web\" refers to undefined network back: invalid compose project", "service \"web\" refers to undefined network back: invalid compose project"},
	} {
		if got := userWords(c.in); got != c.want {
			t.Errorf("%s\n got %s\nwant %s", c.in, got, c.want)
		}
	}
}
