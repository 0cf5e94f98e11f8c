package engine

import (
	"strings"

	"github.com/nyaruka/phonenumbers"
)

// PhoneRegion returns the region (ISO 3166 alpha-2) of an international phone number, or "".
// Phone answers without a country code are read in this region.
func PhoneRegion(phone string) string {
	phone = strings.TrimSpace(phone)
	if phone == "" {
		return ""
	}
	if !strings.HasPrefix(phone, "+") {
		phone = "+" + strings.TrimLeft(phone, "0")
	}
	n, err := phonenumbers.Parse(phone, "")
	if err != nil {
		return ""
	}
	return phonenumbers.GetRegionCodeForNumber(n)
}
