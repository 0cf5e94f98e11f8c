package engine

import "strings"

// builtinTexts are the handoff's status texts in the languages Tandem ships; a step overrides
// any of them in `texts`, and "" silences one.
var builtinTexts = map[string]map[string]string{
	"en": {
		"ask_email":       "To connect you with an agent, please type your e-mail address.",
		"invalid_email":   "That e-mail address doesn't look valid. Please type it again.",
		"connecting":      "Connecting you with an agent. Please wait a moment.",
		"waiting_prompt":  "All our agents are busy right now. Do you want to keep waiting or end the conversation?",
		"connected":       "An agent has joined the conversation.",
		"user_closed":     "You ended the conversation with our team.",
		"agent_closed":    "The agent ended the conversation. Thank you for contacting us!",
		"session_timeout": "The conversation with our team was closed because there was no reply.",
		"out_of_hours":    "Our team is not available right now. Please write to us again during business hours.",
		"unavailable":     "Sorry, our agents can't be reached right now. Please try again later.",
		"option_wait":     "Keep waiting",
		"option_end":      "End",
	},
	"es": {
		"ask_email":       "Para conectarte con un agente, escribe tu correo electrónico.",
		"invalid_email":   "Ese correo electrónico no parece válido. Escríbelo de nuevo.",
		"connecting":      "Te estamos conectando con un agente. Espera un momento.",
		"waiting_prompt":  "Todos nuestros agentes están ocupados. ¿Quieres seguir esperando o terminar la conversación?",
		"connected":       "Un agente se unió a la conversación.",
		"user_closed":     "Terminaste la conversación con nuestro equipo.",
		"agent_closed":    "El agente terminó la conversación. ¡Gracias por contactarnos!",
		"session_timeout": "La conversación con nuestro equipo se cerró por falta de respuesta.",
		"out_of_hours":    "Nuestro equipo no está disponible ahora. Escríbenos de nuevo en horario de atención.",
		"unavailable":     "Lo sentimos, nuestros agentes no están disponibles en este momento. Inténtalo más tarde.",
		"option_wait":     "Seguir esperando",
		"option_end":      "Terminar",
	},
	"pt": {
		"ask_email":       "Para falar com um atendente, digite seu e-mail.",
		"invalid_email":   "Esse e-mail não parece válido. Digite novamente.",
		"connecting":      "Estamos conectando você a um atendente. Aguarde um momento.",
		"waiting_prompt":  "Todos os nossos atendentes estão ocupados. Deseja continuar esperando ou encerrar a conversa?",
		"connected":       "Um atendente entrou na conversa.",
		"user_closed":     "Você encerrou a conversa com nossa equipe.",
		"agent_closed":    "O atendente encerrou a conversa. Obrigado pelo contato!",
		"session_timeout": "A conversa com nossa equipe foi encerrada por falta de resposta.",
		"out_of_hours":    "Nossa equipe não está disponível agora. Escreva novamente no horário de atendimento.",
		"unavailable":     "Desculpe, nossos atendentes não estão disponíveis no momento. Tente novamente mais tarde.",
		"option_wait":     "Continuar esperando",
		"option_end":      "Encerrar",
	},
}

// BuiltinText returns a built-in text in a language (its base: "pt-BR" reads "pt"), English
// when the language has none.
func BuiltinText(lang, key string) string {
	base, _, _ := strings.Cut(strings.ToLower(lang), "-")
	base, _, _ = strings.Cut(base, "_")
	if t, ok := builtinTexts[base][key]; ok {
		return t
	}
	return builtinTexts["en"][key]
}
