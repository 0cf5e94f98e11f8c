package whatsapp

// The webhook's JSON, as much of it as Tandem reads. Decoding is lenient: unknown fields are
// ignored and optional ones may be absent (the payloads in testdata/ omit fields Meta's reference
// marks required).

type payload struct {
	Object string  `json:"object"`
	Entry  []entry `json:"entry"`
}

type entry struct {
	ID      string   `json:"id"`
	Changes []change `json:"changes"`
}

type change struct {
	Field string `json:"field"`
	Value value  `json:"value"`
}

type value struct {
	Metadata struct {
		DisplayPhoneNumber string `json:"display_phone_number"`
		PhoneNumberID      string `json:"phone_number_id"`
	} `json:"metadata"`
	Contacts []struct {
		Profile struct {
			Name string `json:"name"`
		} `json:"profile"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []message    `json:"messages"`
	Statuses []status     `json:"statuses"`
	Errors   []graphIssue `json:"errors"`
}

type graphIssue struct {
	Code      int    `json:"code"`
	Title     string `json:"title"`
	Message   string `json:"message"`
	ErrorData struct {
		Details string `json:"details"`
	} `json:"error_data"`
}

type message struct {
	From       string `json:"from"`
	FromUserID string `json:"from_user_id"`
	ID         string `json:"id"`
	Timestamp  string `json:"timestamp"`
	Type       string `json:"type"`
	GroupID    string `json:"group_id"`
	// Referral is the click-to-WhatsApp ad or post the customer came from (source_url,
	// source_id, source_type, headline, body, ctwa_clid, ...), kept as sent.
	Referral map[string]any `json:"referral"`
	Context  *struct {
		From string `json:"from"`
		ID   string `json:"id"`
	} `json:"context"`
	Text struct {
		Body string `json:"body"`
	} `json:"text"`
	Interactive struct {
		Type        string `json:"type"`
		ButtonReply *struct {
			ID    string `json:"id"`
			Title string `json:"title"`
		} `json:"button_reply"`
		ListReply *struct {
			ID          string `json:"id"`
			Title       string `json:"title"`
			Description string `json:"description"`
		} `json:"list_reply"`
		NFMReply *struct {
			Name         string `json:"name"`
			Body         string `json:"body"`
			ResponseJSON string `json:"response_json"`
		} `json:"nfm_reply"`
	} `json:"interactive"`
	Button struct {
		Payload string `json:"payload"`
		Text    string `json:"text"`
	} `json:"button"`
	Image    *mediaObject `json:"image"`
	Video    *mediaObject `json:"video"`
	Audio    *mediaObject `json:"audio"`
	Voice    *mediaObject `json:"voice"`
	Document *mediaObject `json:"document"`
	Sticker  *mediaObject `json:"sticker"`
	Location struct {
		Latitude  float64 `json:"latitude"`
		Longitude float64 `json:"longitude"`
		Name      string  `json:"name"`
		Address   string  `json:"address"`
	} `json:"location"`
	Contacts []struct {
		Name struct {
			FormattedName string `json:"formatted_name"`
			FirstName     string `json:"first_name"`
			MiddleName    string `json:"middle_name"`
			LastName      string `json:"last_name"`
		} `json:"name"`
		Phones []struct {
			Phone string `json:"phone"`
		} `json:"phones"`
		Emails []struct {
			Email string `json:"email"`
		} `json:"emails"`
		Org struct {
			Company string `json:"company"`
		} `json:"org"`
	} `json:"contacts"`
	Reaction struct {
		MessageID string `json:"message_id"`
		Emoji     string `json:"emoji"`
	} `json:"reaction"`
	Unsupported *struct {
		Type string `json:"type"`
	} `json:"unsupported"`
	Errors []graphIssue `json:"errors"`
}

type mediaObject struct {
	ID       string `json:"id"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	Caption  string `json:"caption"`
	Filename string `json:"filename"`
	URL      string `json:"url"`
	Voice    bool   `json:"voice"`
}

type status struct {
	ID                    string       `json:"id"`
	Status                string       `json:"status"`
	Timestamp             string       `json:"timestamp"`
	RecipientID           string       `json:"recipient_id"`
	BizOpaqueCallbackData string       `json:"biz_opaque_callback_data"`
	Errors                []graphIssue `json:"errors"`
}
