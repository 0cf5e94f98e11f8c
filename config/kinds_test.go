package config_test

// The channel and desk kinds of the server, registered as in tandem serve: validation asks
// them for their keys.
import _ "github.com/tandemchat/tandem/workspace"
