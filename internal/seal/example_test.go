package seal_test

import (
	"fmt"

	"github.com/tandemchat/tandem/internal/seal"
)

// Sealing a credential for a database row, and opening it after a key rotation.
func Example() {
	oldKey, _ := seal.ParseKey(seal.NewKeyText()) // what TANDEM_SECRET_KEY held
	keys := seal.NewKeyring(oldKey)
	stored := keys.Seal([]byte("refresh-token"), "desk:livechat/refresh_token")

	newKey, _ := seal.ParseKey(seal.NewKeyText())
	rotated := seal.NewKeyring(newKey, oldKey) // TANDEM_SECRET_KEY=new, TANDEM_SECRET_KEY_OLD=old
	plain, err := rotated.Open(stored, "desk:livechat/refresh_token")
	fmt.Println(string(plain), err, rotated.Current(stored))
	stored = rotated.Seal(plain, "desk:livechat/refresh_token") // what `tandem secret rotate` does
	fmt.Println(rotated.Current(stored))
	// Output:
	// refresh-token <nil> false
	// true
}
