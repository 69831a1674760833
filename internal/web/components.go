package web

import "strings"

// The view structs below are the parameters of the components in
// templates/components.tmpl, one struct per component, in the manner of
// GOV.UK Frontend's macros. Text fields hold words already translated;
// L is there for the words the component adds itself ("There is a
// problem", "Error:", "(optional)", "Change").

// Page is what the layout needs from every page; page data structs embed
// it.
type Page struct {
	L *Localizer
	// Title is the page's own title; the layout adds "Error: " when Errors
	// is set, and the service name.
	Title string
	// User is the signed-in person, or nil.
	User *UserView
	// Errors, when set, shows the error summary at the top of the page.
	Errors *ErrorSummary
	// Banner, when set, shows a notification banner.
	Banner *Banner
	// Back, when set, shows a back link above the content.
	Back *Link
	// HTMX loads htmx for the page's live parts.
	HTMX bool
	// Nav names the current item of the header's navigation.
	Nav string
	// Wide lets the content use the full width (tables).
	Wide bool
	// AddressNotice, when set, asks the signed-in person to confirm their
	// address (see ConfirmNotice and request.addressNotice).
	AddressNotice *ConfirmNotice
	// Languages is the language switch: each language with the link to
	// this page in it. SwitchForm makes the switch submit the page's form
	// (id "nm-form") instead, so that what the reader typed is shown
	// again in the language chosen.
	Languages  []LangLink
	SwitchForm bool
}

// LangLink is one language of the language switch: its tag, its name in
// itself, the page in it, and whether it is the page's language.
type LangLink struct {
	Lang, Name, Href, Dir string
	Current               bool
}

// UserView is the signed-in person as the header shows them.
type UserView struct {
	Name     string
	Reviewer bool
	Staff    bool
}

// ConfirmNotice asks a signed-in person whose address is not confirmed to
// follow the link mailed to Email: Why says what waits on it, and Button
// posts to /account/confirm-email for a new link, coming back to Next.
type ConfirmNotice struct {
	L          *Localizer
	Email, Why string
	Next       string
	Button     Button
}

// ErrorSummary lists a failed form's problems, each a link to its field.
type ErrorSummary struct {
	L     *Localizer
	Items []ErrorItem
}

// ErrorItem is one problem: Href is "#" + the field's id.
type ErrorItem struct {
	Href, Text string
}

// Input is a labelled one-line input. Type defaults to text; Width is ""
// (full), "5", "10", "20" or "30" characters.
type Input struct {
	L                       *Localizer
	ID, Name, Type, Value   string
	Label, Hint, Error      string
	Optional, Heading       bool
	Autocomplete, InputMode string
	Width                   string
	NoSpellcheck            bool
	Prefix, Suffix          string
}

// DescribedBy lists the ids of the hint and error that describe the input.
func (i Input) DescribedBy() string { return describedBy(i.ID, i.Hint, i.Error, "") }

// Textarea is a labelled multi-line input. With MaxLen it shows a
// character count as plain text (CountMessage), which htmx keeps up to
// date as the reader types when CountURL is set.
type Textarea struct {
	L                  *Localizer
	ID, Name, Value    string
	Label, Hint, Error string
	Optional, Heading  bool
	Rows               int
	MaxLen             int
	CountMessage       string
	CountURL           string
}

// DescribedBy lists the ids of the hint, count and error.
func (t Textarea) DescribedBy() string {
	info := ""
	if t.CountMessage != "" {
		info = t.ID + "-info"
	}
	return describedBy(t.ID, t.Hint, t.Error, info)
}

// Choice is one radio button or checkbox.
type Choice struct {
	ID, Value, Label, Hint string
	Checked                bool
}

// Radios is a fieldset of radio buttons; the first one's id is the
// fieldset's Name, so an error summary links to it.
type Radios struct {
	L                         *Localizer
	Name, Legend, Hint, Error string
	Optional, Inline, Heading bool
	Items                     []Choice
}

// DescribedBy lists the ids of the hint and error of the fieldset.
func (r Radios) DescribedBy() string { return describedBy(r.Name, r.Hint, r.Error, "") }

// Checkboxes is a fieldset of checkboxes (one for a yes/no answer).
type Checkboxes struct {
	L                         *Localizer
	Name, Legend, Hint, Error string
	Optional                  bool
	Items                     []Choice
}

// DescribedBy lists the ids of the hint and error of the fieldset.
func (c Checkboxes) DescribedBy() string { return describedBy(c.Name, c.Hint, c.Error, "") }

// Option is one option of a select.
type Option struct {
	Value, Label string
	Selected     bool
}

// Select is a labelled drop-down list.
type Select struct {
	L                  *Localizer
	ID, Name           string
	Label, Hint, Error string
	Optional           bool
	Autocomplete       string
	Options            []Option
}

// DescribedBy lists the ids of the hint and error.
func (s Select) DescribedBy() string { return describedBy(s.ID, s.Hint, s.Error, "") }

// FileUpload is a labelled file input.
type FileUpload struct {
	L                  *Localizer
	ID, Name           string
	Label, Hint, Error string
	Accept             string
}

// DescribedBy lists the ids of the hint and error.
func (f FileUpload) DescribedBy() string { return describedBy(f.ID, f.Hint, f.Error, "") }

// TaskList is the list of things to do, each with its status.
type TaskList struct {
	Items []Task
}

// Task is one item of a task list; without Href it is not yet possible
// (its Hint says why).
type Task struct {
	ID, Title, Href, Hint string
	Status                Tag
}

// SummaryList shows answers, each with a Change link (check your answers).
type SummaryList struct {
	L    *Localizer
	Rows []SummaryRow
}

// SummaryRow is one answer: Value holds its lines; Href, when set, is its
// Change link, and Change names what it changes for screen readers.
type SummaryRow struct {
	ID, Key     string
	Value       []string
	Href        string
	Change      string
	ChangeLabel string
}

// Banner is a notification banner; Success makes it green and focuses it
// (a role of alert); otherwise it is for information.
type Banner struct {
	Title, Heading, Body string
	Success              bool
}

// Button is a form's submit button, or a link that looks like one when
// Href is set. Name and Value are sent with the form when given.
type Button struct {
	Text, Name, Value, Href string
	Secondary, Warning      bool
	// Context is added for screen readers only ("Admit" + " Ana
	// Wanjiru"), where many buttons on a page say the same word.
	Context string
}

// Panel is the confirmation panel of a finished journey.
type Panel struct {
	Title, Body, Reference string
}

// Tag is a short status label; Colour is "" (blue), "grey", "green",
// "yellow", "red" or "purple".
type Tag struct {
	Text, Colour string
}

// Pagination links to the previous and next pages of a list.
type Pagination struct {
	L          *Localizer
	Prev, Next string
}

// Timeline is the history of a nomination, newest last.
type Timeline struct {
	L     *Localizer
	Items []TimelineItem
}

// TimelineItem is one event as the reader may see it: When is shown,
// Datetime is its machine-readable form.
type TimelineItem struct {
	Title, When, Datetime, By, Body string
}

func describedBy(id, hint, err, extra string) string {
	var ids []string
	if hint != "" {
		ids = append(ids, id+"-hint")
	}
	if extra != "" {
		ids = append(ids, extra)
	}
	if err != "" {
		ids = append(ids, id+"-error")
	}
	return strings.Join(ids, " ")
}

// Table is a data table. Caption names it (visually hidden unless
// ShowCaption); Head gives the column headers, a header with Href is a
// sort link and Sort ("ascending", "descending") marks the column the rows
// are sorted by; each row's first cell is its header when RowHeader is
// set. On narrow screens each row stacks, every cell labelled with its
// column (TableCell.Label, filled from Head when empty).
type Table struct {
	L           *Localizer
	ID          string
	Caption     string
	ShowCaption bool
	Head        []TableHeader
	Rows        []TableRow
	RowHeader   bool
}

// TableHeader is one column header.
type TableHeader struct {
	Text, Href, Sort string
	Numeric          bool
}

// TableRow is one row of a table.
type TableRow struct {
	ID    string
	Cells []TableCell
}

// TableCell is one cell: its lines of text, a link (Href, the first line
// its text), or a tag.
type TableCell struct {
	Lines   []string
	Href    string
	Tag     *Tag
	Label   string
	Numeric bool
	Forms   []RowForm
}

// RowForm is a one-button form in a table cell: a POST to Action with
// one hidden field (Name, Value), such as the page to come back to.
type RowForm struct {
	Action, Name, Value string
	Button              Button
}

// Cell returns a cell of one line of text.
func Cell(text string) TableCell { return TableCell{Lines: []string{text}} }

// fill labels each cell with its column's header, for the stacked rows
// of narrow screens.
func (t Table) fill() Table {
	for i := range t.Rows {
		for j := range t.Rows[i].Cells {
			if t.Rows[i].Cells[j].Label == "" && j < len(t.Head) {
				t.Rows[i].Cells[j].Label = t.Head[j].Text
			}
			if j < len(t.Head) && t.Head[j].Numeric {
				t.Rows[i].Cells[j].Numeric = true
			}
		}
	}
	return t
}

// Filled is the table with every cell labelled (templates call it).
func (t Table) Filled() Table { return t.fill() }

// BarChart is a horizontal bar chart drawn on the server as SVG: one bar
// per value, its count written at its end, the targets' bounds drawn as
// marked lines with their words, and the bars told apart by pattern as
// well as by colour. Title and Desc are its text alternative (<title>,
// <desc>, aria-labelledby); Table holds the same numbers for reading.
type BarChart struct {
	ID, Title, Desc      string
	Width, Height, TickY int
	Bars                 []ChartBar
	Ticks                []ChartTick
	Legend               []ChartLegend
	Table                Table
}

// ChartBar is one bar, with the positions computed for the drawing.
type ChartBar struct {
	Label, ValueText string
	Pattern          string
	Y, LabelY, TextY int
	MarkY1, MarkY2   int
	W, TextX         int
	Min, Max         *ChartMark
	Broken           bool
	BrokenText       string
}

// ChartMark is a target's bound drawn across a bar.
type ChartMark struct {
	X    int
	Text string
}

// ChartTick is a scale mark under the bars.
type ChartTick struct {
	X    int
	Text string
}

// ChartLegend explains a pattern or a mark.
type ChartLegend struct {
	Pattern, Mark, Text string
}
