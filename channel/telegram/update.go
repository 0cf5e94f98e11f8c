package telegram

// The Bot API's JSON, as much as Tandem reads; decoding is lenient (examples omit fields the
// reference marks required).

type update struct {
	UpdateID      int64          `json:"update_id"`
	Message       *message       `json:"message"`
	EditedMessage *message       `json:"edited_message"`
	CallbackQuery *callbackQuery `json:"callback_query"`
	MyChatMember  *struct {
		Chat          chat `json:"chat"`
		From          user `json:"from"`
		NewChatMember struct {
			Status string `json:"status"`
		} `json:"new_chat_member"`
	} `json:"my_chat_member"`
}

type user struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	LastName     string `json:"last_name"`
	Username     string `json:"username"`
	LanguageCode string `json:"language_code"`
}

type chat struct {
	ID   int64  `json:"id"`
	Type string `json:"type"`
}

type file struct {
	FileID       string `json:"file_id"`
	FileUniqueID string `json:"file_unique_id"`
	FileSize     int64  `json:"file_size"`
	FileName     string `json:"file_name"`
	MimeType     string `json:"mime_type"`
	Width        int    `json:"width"`
	Height       int    `json:"height"`
	IsAnimated   bool   `json:"is_animated"`
	IsVideo      bool   `json:"is_video"`
}

type location struct {
	Latitude  float64 `json:"latitude"`
	Longitude float64 `json:"longitude"`
}

type message struct {
	MessageID int64     `json:"message_id"`
	From      *user     `json:"from"`
	Chat      chat      `json:"chat"`
	Date      int64     `json:"date"`
	EditDate  int64     `json:"edit_date"`
	Text      string    `json:"text"`
	Caption   string    `json:"caption"`
	Photo     []file    `json:"photo"`
	Document  *file     `json:"document"`
	Voice     *file     `json:"voice"`
	Audio     *file     `json:"audio"`
	Video     *file     `json:"video"`
	VideoNote *file     `json:"video_note"`
	Sticker   *file     `json:"sticker"`
	Animation *file     `json:"animation"`
	Location  *location `json:"location"`
	Venue     *struct {
		Location location `json:"location"`
		Title    string   `json:"title"`
		Address  string   `json:"address"`
	} `json:"venue"`
	Contact *struct {
		PhoneNumber string `json:"phone_number"`
		FirstName   string `json:"first_name"`
		LastName    string `json:"last_name"`
		UserID      int64  `json:"user_id"`
	} `json:"contact"`
	ReplyToMessage *struct {
		MessageID int64 `json:"message_id"`
	} `json:"reply_to_message"`
	ReplyMarkup *struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	} `json:"reply_markup"`
	Poll       any `json:"poll"`
	Dice       any `json:"dice"`
	Game       any `json:"game"`
	Story      any `json:"story"`
	Invoice    any `json:"invoice"`
	WebAppData *struct {
		Data       string `json:"data"`
		ButtonText string `json:"button_text"`
	} `json:"web_app_data"`
}

type callbackQuery struct {
	ID              string   `json:"id"`
	From            user     `json:"from"`
	Message         *message `json:"message"`
	InlineMessageID string   `json:"inline_message_id"`
	Data            string   `json:"data"`
}
